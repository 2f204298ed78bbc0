"""An Ollama Modelfile whose TEMPLATE is the model's chat template, translated to Go.

Ollama renders prompts with Go templates, not Jinja, so the chat template is translated
for the two families whose shape is fixed (FAMILIES): ChatML (`<|im_start|>`, SmolLM2,
Qwen) and Llama 3 (`<|start_header_id|>`), recognised by their markers. Recognising the
markers is not trusting them: the Jinja template is rendered on probe conversations
(with and without a system message, several turns) and each render must equal the
family's layout exactly, after one allowance: a system prompt the template adds when the
conversation has none. That prompt becomes the Modelfile's SYSTEM, which Ollama puts in
front of a conversation that has no system message of its own, as the template does.

Any other template, or one that renders differently from its family, raises
TemplateNotTranslatable naming the family, rather than shipping a guessed prompt format
that would silently degrade the model. The caller can still export the GGUF and leave the
Modelfile out. Tool calls are not translated.

A BOS token the template writes is left to the runtime when the tokenizer adds it itself
(llama.cpp adds it from `tokenizer.ggml.add_bos_token`), and kept as text otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tuneforge.export.errors import ExportError

Message = dict[str, str]
Render = Callable[[list[Message]], str]
"""Renders a conversation through the chat template, with the generation prompt."""


class TemplateNotTranslatable(ExportError):
    """The chat template is not one the Modelfile writer can translate faithfully."""

    def __init__(self, message: str, family: str | None):
        self.family = family
        super().__init__(message)


@dataclass(frozen=True)
class Family:
    name: str
    markers: tuple[str, ...]
    """Strings every template of the family contains."""
    turn: Callable[[str, str], str]
    """(role, content) -> one rendered message."""
    generation_prompt: str
    stops: tuple[str, ...]
    """Stop strings, as Ollama's own Modelfiles for the family list them."""
    system_turn: re.Pattern[str]
    """Matches a rendered system message at the start of a text; group 1 is its content."""


CHATML = Family(
    name="ChatML",
    markers=("<|im_start|>", "<|im_end|>"),
    turn=lambda role, content: f"<|im_start|>{role}\n{content}<|im_end|>\n",
    generation_prompt="<|im_start|>assistant\n",
    stops=("<|im_start|>", "<|im_end|>"),
    system_turn=re.compile(r"<\|im_start\|>system\n(.*?)<\|im_end\|>\n", re.S),
)
LLAMA3 = Family(
    name="Llama 3",
    markers=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    turn=lambda role, content: f"<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>",
    generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
    stops=("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    system_turn=re.compile(
        r"<\|start_header_id\|>system<\|end_header_id\|>\n\n(.*?)<\|eot_id\|>", re.S
    ),
)
FAMILIES: tuple[Family, ...] = (CHATML, LLAMA3)
# Families recognised only to name them in the refusal.
UNTRANSLATED: dict[str, str] = {
    "<start_of_turn>": "Gemma",
    "[INST]": "Llama 2 / Mistral",
    "<|user|>": "Zephyr / Phi-3",
    "<|START_OF_TURN_TOKEN|>": "Command R",
    "<｜User｜>": "DeepSeek",
    "<|turn>": "Gemma 4",
}
SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
PROBES: tuple[tuple[Message, ...], ...] = (
    ({"role": USER, "content": "Hello there."},),
    ({"role": SYSTEM, "content": "Be brief."}, {"role": USER, "content": "Hello there."}),
    (
        {"role": USER, "content": "Hello there."},
        {"role": ASSISTANT, "content": "Hi! How can I help?"},
        {"role": USER, "content": "Name a colour."},
    ),
    (
        {"role": SYSTEM, "content": "Be brief."},
        {"role": USER, "content": "Hello there."},
        {"role": ASSISTANT, "content": "Hi! How can I help?"},
        {"role": USER, "content": "Name a colour."},
    ),
)


@dataclass(frozen=True)
class Translation:
    family: str
    template: str
    """The Go template for Ollama's TEMPLATE."""
    system: str | None
    """The system prompt the chat template adds when a conversation has none."""
    stops: tuple[str, ...]


def detect_family(chat_template: str) -> Family:
    for family in FAMILIES:
        if all(marker in chat_template for marker in family.markers):
            return family
    named = next((name for mark, name in UNTRANSLATED.items() if mark in chat_template), None)
    what = f"a {named} template" if named else "a template of no family TuneForge knows"
    raise TemplateNotTranslatable(
        f"the chat template is {what}; the Modelfile writer translates "
        f"{' and '.join(f.name for f in FAMILIES)} templates only. Export without a "
        "Modelfile and write its TEMPLATE by hand.",
        named,
    )


def translate(
    chat_template: str, render: Render, *, bos_token: str | None = None, adds_bos: bool = False
) -> Translation:
    """The Go template (and default system prompt) equivalent to `chat_template`, checked
    by rendering PROBES with `render`."""
    family = detect_family(chat_template)
    renders = [(probe, render([dict(m) for m in probe])) for probe in PROBES]
    # A template may write BOS before the first turn. For ChatML models BOS is often
    # `<|im_start|>` itself, so a leading BOS counts as one only if the rest then fits.
    leads = [bos_token] if bos_token and renders[0][1].startswith(bos_token) else []
    mismatches = []
    for lead in [*leads, ""]:
        system, mismatch = _fit(family, renders, lead)
        if mismatch is None:
            break
        mismatches.append(mismatch)
    else:
        probe, rendered, expected = mismatches[0]
        roles = ", ".join(m["role"] for m in probe)
        raise TemplateNotTranslatable(
            f"the chat template looks like {family.name} but renders a conversation "
            f"({roles}) differently from the {family.name} layout:\n  expected {expected!r}"
            f"\n  rendered {rendered!r}\nExport without a Modelfile and write its "
            "TEMPLATE by hand.",
            family.name,
        )
    go_lead = "" if adds_bos else lead
    template = (
        go_lead
        + "{{- range .Messages }}"
        + family.turn("{{ .Role }}", "{{ .Content }}")
        + "{{ end }}"
        + family.generation_prompt
    )
    return Translation(family.name, template, system, family.stops)


def _fit(family: Family, renders, lead: str):
    """(default system prompt, first (probe, render, expected) that differs, or None)."""
    found = family.system_turn.match(renders[0][1], len(lead))
    system = found.group(1) if found else None
    for probe, rendered in renders:
        expected = lead + _layout(family, probe, system)
        if rendered != expected:
            return system, (probe, rendered, expected)
    return system, None


def _layout(family: Family, messages: Sequence[Message], system: str | None) -> str:
    """How the family lays out a conversation, with the generation prompt."""
    text = ""
    if system is not None and messages[0]["role"] != SYSTEM:
        text += family.turn(SYSTEM, system)
    text += "".join(family.turn(m["role"], m["content"]) for m in messages)
    return text + family.generation_prompt


def render_modelfile(
    translation: Translation,
    model: str = "./model.gguf",
    adapter: str | None = None,
    extra_stops: Sequence[str] = (),
) -> str:
    """The Modelfile text. `model` and `adapter` are paths relative to the Modelfile."""
    for text in (translation.template, translation.system or ""):
        if '"""' in text:
            raise ExportError(
                'the chat template or system prompt contains """, which a Modelfile cannot quote'
            )
    lines = [
        f"# Written by TuneForge, translated from the model's {translation.family} chat template.",
        f"FROM {model}",
    ]
    if adapter is not None:
        lines.append(f"ADAPTER {adapter}")
    lines.append(f'TEMPLATE """{translation.template}"""')
    if translation.system is not None:
        lines.append(f'SYSTEM """{translation.system}"""')
    stops = list(dict.fromkeys([*translation.stops, *extra_stops]))
    lines += [f"PARAMETER stop {_quoted(stop)}" for stop in stops]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_modelfile(
    model_folder: Path,
    output: Path,
    *,
    model: str = "./model.gguf",
    adapter: str | None = None,
) -> Path:
    """Translate the chat template of the tokenizer in `model_folder` and write the
    Modelfile at `output`. Raises TemplateNotTranslatable for other templates."""
    from transformers import AutoTokenizer

    from tuneforge.export.gguf_vocab import adds_special_token

    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    template = tokenizer.chat_template
    if not isinstance(template, str):
        raise TemplateNotTranslatable(
            f"{model_folder}: the tokenizer has no (single) chat template to translate", None
        )

    def render(messages: list[Message]) -> str:
        return str(
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    translation = translate(
        template,
        render,
        bos_token=tokenizer.bos_token,
        adds_bos=adds_special_token(tokenizer, tokenizer.bos_token_id, first=True),
    )
    extra = [tokenizer.eos_token] if tokenizer.eos_token else []
    text = render_modelfile(translation, model=model, adapter=adapter, extra_stops=extra)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text)
    return Path(output)
