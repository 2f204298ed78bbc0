"""Alpaca, Dolly and ShareGPT records become OpenAI chat, with errors naming their own fields."""

from __future__ import annotations

import json

import pytest

from tuneforge.data import ChatExample, read_examples
from tuneforge.data.records import parse_record
from tuneforge.errors import DataError


def roles_and_texts(example: ChatExample) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in example.messages]


def test_alpaca_with_input_system_and_history():
    record = {
        "system": "Be brief.",
        "history": [["Hi", "Hello!"]],
        "instruction": "Translate to French.",
        "input": "good morning",
        "output": "bonjour",
    }
    assert roles_and_texts(parse_record(record, "a.jsonl", 1)) == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Translate to French.\n\ngood morning"),
        ("assistant", "bonjour"),
    ]


def test_alpaca_empty_input_adds_nothing():
    example = parse_record({"instruction": "Say hi.", "input": "", "output": "hi"}, "a", 1)
    assert roles_and_texts(example) == [("user", "Say hi."), ("assistant", "hi")]


def test_dolly_appends_context():
    record = {
        "instruction": "Who?",
        "context": "Ada wrote it.",
        "response": "Ada",
        "category": "qa",
    }
    assert roles_and_texts(parse_record(record, "d", 1)) == [
        ("user", "Who?\n\nAda wrote it."),
        ("assistant", "Ada"),
    ]


def test_sharegpt_maps_speakers_and_trains_every_gpt_turn():
    record = {
        "system": "You are terse.",
        "conversations": [
            {"from": "human", "value": "2+2?"},
            {"from": "gpt", "value": "4"},
            {"from": "human", "value": "and 3+3?"},
            {"from": "gpt", "value": "6"},
        ],
    }
    example = parse_record(record, "s", 1)
    assert [m.role for m in example.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert [m.content for m in example.messages if m.trained] == ["4", "6"]


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"instruction": "x", "output": 3}, "output", "expected a string, got int"),
        ({"instruction": "", "output": "y"}, "instruction", "empty"),
        (
            {"instruction": "x", "output": "y", "history": [["q"]]},
            "history[0]",
            "[instruction, response]",
        ),
        ({"instruction": "x", "input": 5, "output": "y"}, "input", "expected a string"),
        ({"conversations": [{"from": "bot", "value": "x"}]}, "conversations[0].from", "speaker"),
        ({"conversations": [{"from": "human"}]}, "conversations[0].value", "missing"),
        ({"conversations": [{"from": "human", "value": "q"}]}, "messages", "no assistant"),
    ],
)
def test_errors_name_the_source_field(record, field, message):
    with pytest.raises(DataError) as info:
        parse_record(record, "data.jsonl", 7)
    assert str(info.value).startswith(f"data.jsonl:7: {field}: ")
    assert message in str(info.value)


def test_json_file_with_one_record(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"conversations": [{"from": "human", "value": "q"},
                                                  {"from": "gpt", "value": "a"}]}))  # fmt: skip
    (example,) = read_examples(path)
    assert roles_and_texts(example) == [("user", "q"), ("assistant", "a")]
