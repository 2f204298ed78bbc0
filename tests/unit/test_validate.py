"""`tuneforge data validate`: one planted fault per kind, found with the right line."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY, write_jsonl
from tuneforge.cli.main import main
from tuneforge.data.validate import validate_file

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
LONG_PROMPT = {"messages": [{"role": "user", "content": "word " * 80}, GOOD["messages"][1]]}

# (line, field, text in the message, severity) for each planted fault.
PLANTED = [
    ("{oops", (2, None, "malformed JSON", "error")),
    ({**GOOD, "id": 7}, None),
    ({**GOOD, "id": 7}, (4, "id", "duplicate id 7 (first on line 3)", "error")),
    (
        {"messages": [{**GOOD["messages"][0], "extra": 1}, GOOD["messages"][1]]},
        (5, "messages[0].extra", "unknown key", "error"),
    ),  # fmt: skip
    (
        {"messages": [{"role": "user", "content": ""}, GOOD["messages"][1]]},
        (6, "messages[0].content", "empty", "error"),
    ),  # fmt: skip
    (
        {"messages": [{"role": "bot", "content": "x"}]},
        (7, "messages[0].role", "unknown role", "error"),
    ),  # fmt: skip
    (
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "system", "content": "s"},
                GOOD["messages"][1],
            ]
        },
        (8, "messages[1].role", "system message after", "error"),
    ),  # fmt: skip
    (
        {"messages": [{"role": "user", "content": "x"}]},
        (9, "messages", "no assistant message", "error"),
    ),  # fmt: skip
    (
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "assistant", "content": "y"},
            ]
        },
        (10, "messages[1].tool_calls", "tool call c1 has no tool result", "error"),
    ),  # fmt: skip
    (
        {"messages": [{"role": "user", "content": ["x"]}, GOOD["messages"][1]]},
        (11, "messages[0].content", "expected a string", "error"),
    ),  # fmt: skip
    (
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "user", "content": "y"},
                GOOD["messages"][1],
            ]
        },
        (12, "messages[1].role", "two user messages in a row", "warning"),
    ),  # fmt: skip
    (LONG_PROMPT, (13, None, "every trained token lies beyond max_length=48", "error")),
    # Beside `messages`, OpenAI's checks pass an unknown key: a warning (records.py's rule).
    ({**GOOD, "extra": 1}, (14, "extra", "unknown key", "warning")),
]


@pytest.fixture
def faulty(tmp_path):
    return write_jsonl(tmp_path / "faulty.jsonl", [GOOD] + [record for record, _ in PLANTED])


def test_every_planted_fault_is_found_on_its_line(faulty, tokenizer):
    report = validate_file(faulty, tokenizer, max_length=48)
    found = {(p.line, p.field, p.severity): p.message for p in report.problems}
    for _, expected in PLANTED:
        if expected is None:
            continue
        line, field, text, severity = expected
        assert text in found.get((line, field, severity), ""), (expected, found)
    assert report.records == len(PLANTED) + 1
    assert not [p for p in report.problems if p.line in (1, 3)]  # clean records stay clean


def test_clean_file_passes_with_token_statistics(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "clean.jsonl", [GOOD, {"instruction": "Say hi", "output": "hi"}])
    report = validate_file(path, tokenizer, max_length=256)
    assert report.problems == [] and report.valid == 2
    assert report.tokens_per_epoch > report.trained_tokens_per_epoch > 0
    assert sum(report.token_histogram.values()) == 2


def test_cli_exit_codes_and_json(faulty, tmp_path, capsys):
    assert main(["data", "validate", str(faulty), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["errors"] == 9  # all but the length fault
    clean = write_jsonl(tmp_path / "clean.jsonl", [GOOD])
    assert main(["data", "validate", str(clean), "--model", TINY]) == 0
    assert "1 records, 1 valid, 0 errors" in capsys.readouterr().out


PAIR = {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Rome."}


def test_method_dpo_accepts_pairs_and_names_each_supervised_record(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [PAIR, GOOD, PAIR])
    report = validate_file(path, kind="preference")
    assert [(p.line, p.severity) for p in report.problems] == [(2, "error")]
    assert "learns from preference pairs" in report.problems[0].message
    assert report.valid == 2


def test_method_kto_takes_labelled_messages_and_unpairs_preference_pairs(tmp_path):
    labelled = {**GOOD, "label": False}
    report = validate_file(write_jsonl(tmp_path / "kto.jsonl", [labelled, PAIR]), kind="kto")
    assert report.problems == []
    assert report.valid == 2


def test_pair_lengths_are_checked_per_reply(tmp_path, tokenizer):
    long_reply = {**PAIR, "rejected": "word " * 200}
    path = write_jsonl(tmp_path / "pairs.jsonl", [PAIR, long_reply])
    report = validate_file(path, tokenizer, max_length=64, kind="preference")
    assert [(p.line, p.field, p.severity) for p in report.problems] == [
        (2, "prompt + rejected", "warning")
    ]
    assert "truncated to max_length=64" in report.problems[0].message


def test_pair_prompt_ending_in_an_assistant_turn_is_a_warning(tmp_path):
    record = {
        "prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        "chosen": [{"role": "assistant", "content": "a"}],
        "rejected": [{"role": "assistant", "content": "b"}],
    }
    (problem,) = validate_file(
        write_jsonl(tmp_path / "p.jsonl", [record]), kind="preference"
    ).problems
    assert (problem.field, problem.severity) == ("prompt", "warning")


# Prompt files (grpo, ppo): (line, field, text in the message) for each planted fault.
PROMPTS = [
    ({"prompt": "Write a haiku.", "answer": "any"}, None),  # other keys are reward columns
    ({"messages": [{"role": "user", "content": "hi"}], "reference": "x"}, None),
    ({"completion": "no prompt"}, (3, None, "expected 'prompt' or 'messages'")),
    ({"prompt": "   "}, (4, "prompt", "empty")),
    ({"prompt": 7}, (5, "prompt", "expected a string or a list of messages")),
    (GOOD, (6, "messages[1].role", "prompts end with a user turn")),
    ({"messages": [{"role": "usr", "content": "x"}]}, (7, "messages[0].role", "unknown role")),
    ("[1, 2", (8, None, "malformed JSON")),
]


@pytest.mark.parametrize("method", ["grpo", "ppo"])
def test_prompt_methods_validate_prompt_records_with_lines(tmp_path, capsys, method):
    path = write_jsonl(tmp_path / "prompts.jsonl", [record for record, _ in PROMPTS])
    assert main(["data", "validate", str(path), "--method", method, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = [(p["line"], p["field"], p["message"]) for p in report["problems"]]
    expected = [fault for _, fault in PROMPTS if fault]
    assert len(found) == len(expected)
    for (line, field, message), (want_line, want_field, text) in zip(found, expected, strict=True):
        assert (line, field) == (want_line, want_field) and text in message
    assert report["valid"] == 2

    good = write_jsonl(tmp_path / "good.jsonl", [record for record, fault in PROMPTS if not fault])
    assert main(["data", "validate", str(good), "--method", method]) == 0


def test_records_of_a_one_line_json_list_are_named_by_their_place(tmp_path, tokenizer):
    from tests.unit.test_tools import GLAIVE
    from tuneforge.data.validate import summarised

    # Minified: every record is on line 1, so lines cannot tell them apart.
    tools = tmp_path / "glaive.json"
    tools.write_text(json.dumps([GLAIVE] * 6))
    (error,) = validate_file(tools, tokenizer, max_length=512).errors
    assert (error.where, error.line) == (str(tools), None)
    assert error.message.startswith("6 records (records 1, 2, 3, 4, 5, ...) carry tools")

    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps([{"prompt": f"Q{i}?"} for i in range(6)]))
    (shown,) = summarised(validate_file(prompts).problems)
    assert (shown.where, shown.field) == (str(prompts), "completion")
    assert shown.message.endswith("(6 records: records 1, 2, 3, 4, 5, ...)")

    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps([{**GOOD, "id": 1}, {**GOOD, "id": 1}]))
    (duplicate,) = validate_file(ids).problems
    assert duplicate.message == "duplicate id 1 (first on record 1)"
