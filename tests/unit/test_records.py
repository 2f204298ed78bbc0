"""Records and readers: every accepted shape becomes a typed example; every bad record
raises a DataError that names the file, the line and the field."""

from __future__ import annotations

import json

import pytest

from tests.helpers import write_jsonl
from tuneforge.data import ChatExample, CompletionExample, TextExample, read_examples
from tuneforge.errors import DataError

USER = {"role": "user", "content": "hi"}
ASSISTANT = {"role": "assistant", "content": "hello"}


def test_the_three_shapes(tmp_path):
    path = write_jsonl(
        tmp_path / "data.jsonl",
        [
            {"messages": [{"role": "system", "content": "s"}, USER, ASSISTANT]},
            {"prompt": "2+2=", "completion": "4"},
            {"text": "plain"},
            {"prompt": [USER], "completion": [ASSISTANT]},
        ],
    )
    chat, completion, text, conversational = read_examples(path)
    assert isinstance(chat, ChatExample) and [m.role for m in chat.messages] == [
        "system", "user", "assistant"
    ]  # fmt: skip
    assert completion == CompletionExample("2+2=", "4")
    assert text == TextExample("plain")
    # Conversational prompt/completion: the prompt turns are context, never trained.
    assert [(m.role, m.trained) for m in conversational.messages] == [
        ("user", False),
        ("assistant", True),
    ]


def test_weight_zero_assistant_is_context(tmp_path):
    record = {"messages": [USER, {**ASSISTANT, "weight": 0}, USER, ASSISTANT]}
    (example,) = read_examples(write_jsonl(tmp_path / "d.jsonl", [record]))
    assert [m.trained for m in example.messages] == [False, False, False, True]


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "a"}) + "\n\n" + json.dumps({"text": 5}) + "\n")
    with pytest.raises(DataError, match=rf"^{path}:3: text: expected a string, got int$"):
        read_examples(path)


def test_json_list_errors_name_the_line_the_record_starts_on(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"text": "a"}, {"text": "b"}, {"messages": []}], indent=2))
    with pytest.raises(DataError, match=r"d.json:8: messages: empty conversation"):
        read_examples(path)


BAD_RECORDS = [
    ("{not json", None, "malformed JSON"),
    ('["a list"]', None, "expected a JSON object, got list"),
    ({"prompt": "only a prompt"}, "completion", "missing"),
    ({"question": "?"}, None, "unrecognised record with keys ['question']"),
    ({"messages": []}, "messages", "empty conversation"),
    ({"messages": "hi"}, "messages", "expected a list of messages, got str"),
    ({"messages": [USER, {"role": "robot", "content": "x"}]}, "messages[1].role", "unknown role"),
    ({"messages": [{"content": "x"}, ASSISTANT]}, "messages[0].role", "missing"),
    ({"messages": [{"role": "user"}, ASSISTANT]}, "messages[0].content", "missing"),
    ({"messages": [USER, {"role": "assistant", "content": 3}]}, "messages[1].content", "string"),
    ({"messages": [{**USER, "colour": 1}, ASSISTANT]}, "messages[0].colour", "unknown key"),
    ({"messages": [USER]}, "messages", "no assistant message to learn from"),
    ({"messages": [USER, {**ASSISTANT, "weight": 0}]}, "messages", "no assistant message"),
    ({"messages": [USER, {**ASSISTANT, "weight": 2}]}, "messages[1].weight", "expected 0 or 1"),
    ({"messages": [{**USER, "weight": 1}, ASSISTANT]}, "messages[0].weight", "only assistant"),
    (
        {"messages": [ASSISTANT, USER, ASSISTANT]},
        "messages[0]",
        "starts with a trained assistant message",
    ),
    ({"messages": [USER, ASSISTANT], "tools": "x"}, "tools", "expected a list of tool"),
    ({"prompt": "p", "completion": "  "}, "completion", "empty"),
    ({"prompt": 1, "completion": "c"}, "prompt", "expected a string, got int"),
    ({"prompt": [USER], "completion": [USER]}, "completion", "no assistant message"),
    ({"text": ""}, "text", "empty"),
]


@pytest.mark.parametrize(("record", "field", "message"), BAD_RECORDS)
def test_bad_record_names_file_line_and_field(tmp_path, record, field, message):
    good = {"messages": [USER, ASSISTANT]}
    path = write_jsonl(tmp_path / "train.jsonl", [good, good, record])
    with pytest.raises(DataError) as info:
        read_examples(path)
    error = info.value
    assert (error.path, error.line, error.field) == (str(path), 3, field)
    assert message in error.detail
    where = f"{path}:3: {field}: " if field else f"{path}:3: "
    assert str(error).startswith(where)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_examples(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="empty file: no records"):
        read_examples(tmp_path / "empty.jsonl")


def test_assistant_tool_call_without_content_is_accepted(tmp_path):
    function = {"name": "add", "arguments": '{"a": 1}'}
    call = {
        "role": "assistant",
        "tool_calls": [{"id": "1", "type": "function", "function": function}],
    }
    record = {"messages": [USER, call, {"role": "tool", "content": "42"}, ASSISTANT]}
    (example,) = read_examples(write_jsonl(tmp_path / "d.jsonl", [record]))
    assert example.messages[1].content == ""
    assert example.messages[1].extra == {"tool_calls": call["tool_calls"]}


def test_forced_format_names_the_field_that_format_needs():
    from tuneforge.data.records import parse_records

    record = {"instruction": "Say hi.", "response": "hi"}  # Dolly, read as Alpaca
    with pytest.raises(DataError, match=r"f.jsonl:3: output: missing"):
        parse_records(record, "f.jsonl", 3, format="alpaca")
    (example,) = parse_records(record, "f.jsonl", 3, format="dolly")
    assert [m.content for m in example.messages] == ["Say hi.", "hi"]


def test_format_of_names_every_shape():
    from tuneforge.data.records import format_of

    shapes = {
        "openai": {"messages": []},
        "alpaca": {"instruction": "", "output": ""},
        "sharegpt_pairs": {"conversations": [], "chosen": {}, "rejected": {}},
        "openai_dpo": {"input": {}, "preferred_output": []},
        "kto": {"prompt": "", "completion": "", "label": True},
        "ranked": {"prompt": "", "completions": []},
        "prompt_completion": {"prompt": "", "completion": ""},
        "text": {"text": ""},
        "unknown": {"question": ""},
    }
    assert {name: format_of(obj) for name, obj in shapes.items()} == {n: n for n in shapes}
