"""Ollama Modelfiles translated from chat templates: ChatML and Llama 3 are translated and
checked by rendering; every other template is refused with its family named."""

from __future__ import annotations

import pytest

from tests.helpers import TINY
from tuneforge.export.modelfile import (
    TemplateNotTranslatable,
    detect_family,
    render_modelfile,
    translate,
    write_modelfile,
)

SMOLLM2_MODELFILE = '''\
# Written by TuneForge, translated from the model's ChatML chat template.
FROM ./model.gguf
TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""
PARAMETER stop "<|im_start|>"
PARAMETER stop "<|im_end|>"
'''

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' "
    "+ message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
PLAIN_CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ message['role'] }}\n"
    "{{ message['content'] }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n"
)


def renderer(tokenizer, template: str, **variables):
    def render(messages):
        return tokenizer.apply_chat_template(
            messages,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=True,
            **variables,
        )

    return render


def test_smollm2_chatml_template_becomes_the_expected_modelfile(
    tokenizer, tuneforge_cache, tmp_path
):
    from tuneforge.models.registry import ensure_cached

    written = write_modelfile(ensure_cached(TINY), tmp_path / "Modelfile")
    assert written.read_text() == SMOLLM2_MODELFILE


def test_adapter_modelfile_names_base_and_adapter(tokenizer):
    translation = translate(PLAIN_CHATML, renderer(tokenizer, PLAIN_CHATML))
    text = render_modelfile(translation, model="./base.gguf", adapter="./adapter.gguf")

    assert "FROM ./base.gguf\nADAPTER ./adapter.gguf\nTEMPLATE" in text
    assert "\nSYSTEM" not in text  # this template adds no system prompt of its own


@pytest.mark.parametrize("adds_bos", [True, False])
def test_llama3_template_is_translated(tokenizer, adds_bos):
    render = renderer(tokenizer, LLAMA3_TEMPLATE, bos_token="<|begin_of_text|>")
    translation = translate(
        LLAMA3_TEMPLATE, render, bos_token="<|begin_of_text|>", adds_bos=adds_bos
    )

    # llama.cpp adds BOS itself when the tokenizer says so; otherwise it stays as text.
    lead = "" if adds_bos else "<|begin_of_text|>"
    assert translation.template == (
        lead + "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
        "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert translation.family == "Llama 3" and translation.system is None
    assert translation.stops == ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def test_gemma_template_is_refused_by_name():
    with pytest.raises(TemplateNotTranslatable, match="a Gemma template") as refused:
        detect_family(GEMMA_TEMPLATE)
    assert refused.value.family == "Gemma"


def test_unknown_template_is_refused():
    with pytest.raises(TemplateNotTranslatable, match="no family TuneForge knows"):
        detect_family(
            "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        )


def test_chatml_markers_with_another_layout_are_refused(tokenizer):
    # Looks like ChatML, but puts a blank line after each turn: a guessed TEMPLATE would
    # feed the model prompts it was not trained on.
    spaced = PLAIN_CHATML.replace("'<|im_end|>\\n'", "'<|im_end|>\\n\\n'")
    with pytest.raises(TemplateNotTranslatable, match="looks like ChatML but renders") as refused:
        translate(spaced, renderer(tokenizer, spaced))
    assert refused.value.family == "ChatML"
