"""`tuneforge data inspect`: the highlighted tokens are exactly the trained ones."""

from __future__ import annotations

from tests.helpers import TINY, write_jsonl
from tuneforge.cli.main import main
from tuneforge.data import tokenize_examples
from tuneforge.data.inspect import TRAINED_STYLE, render_mask
from tuneforge.data.records import parse_record

CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
}


def test_highlighted_text_is_the_answer_and_end_of_turn(tokenizer):
    (example,), _ = tokenize_examples([parse_record(CHAT, "t", 1)], tokenizer, 128)
    text = render_mask(example, tokenizer)
    highlighted = "".join(
        text.plain[span.start : span.end] for span in text.spans if span.style == TRAINED_STYLE
    )
    assert highlighted == "hello<|im_end|>"
    assert text.plain.startswith("<|im_start|>system\nBe brief.")


def test_cli_shows_examples(tmp_path, capsys):
    path = write_jsonl(tmp_path / "d.jsonl", [CHAT, CHAT])
    assert main(["data", "inspect", str(path), "--model", TINY, "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "example 1:" in out and "example 2:" not in out and "hello<|im_end|>" in out
