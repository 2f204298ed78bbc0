"""`data validate` counts what OpenAI's data-preparation guide counts, and shows the
problems of a file shaped like the cookbook's toy example without a tokenizer."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY, write_jsonl
from tests.unit.test_tools import GLAIVE
from tuneforge.data.openai_checks import openai_checks
from tuneforge.data.validate import validate_file

SYSTEM = {"role": "system", "content": "You are a happy assistant."}
USER = {"role": "user", "content": "I fell off my bike today."}
REPLY = {"role": "assistant", "content": "Great that you get exercise outdoors!"}


@pytest.mark.parametrize(
    ("record", "failed"),
    [
        ({"messages": [SYSTEM, USER, REPLY]}, set()),
        (["not", "an", "object"], {"data_type"}),
        ({"messages": []}, {"missing_messages_list"}),
        ({"question": "no format at all"}, {"missing_messages_list"}),
        ({"instruction": "Alpaca is converted by us", "output": "so not OpenAI's"}, set()),
        ({"messages": [USER, {"content": "who?"}]}, {"message_missing_key", "unrecognized_role",
                                                      "example_missing_assistant_message"}),
        ({"messages": [USER, {**REPLY, "mood": "happy"}]}, {"message_unrecognized_key"}),
        ({"messages": [USER, {"role": "bot", "content": "x"}]}, {"unrecognized_role",
                                                                 "example_missing_assistant_message"}),
        ({"messages": [USER, {"role": "assistant", "content": None}]}, {"missing_content"}),
        ({"messages": [SYSTEM, USER]}, {"example_missing_assistant_message"}),
        ({"messages": [SYSTEM, REPLY]}, {"example_missing_user_message"}),
        ({"messages": [USER, {"role": "assistant", "tool_calls": [{}]}]}, set()),
    ],
)  # fmt: skip
def test_each_check_fails_on_what_the_guide_counts(record, failed):
    assert openai_checks(record) == failed


def test_the_cookbook_toy_files_two_problems_show_without_a_tokenizer(tmp_path):
    # The shape of openai-cookbook's examples/data/toy_chat_fine_tuning.jsonl: a row with no
    # user message (line 2) and a reply repeating one sentence 2,000 times (line 3).
    banana = {"role": "assistant", "content": "Eat a banana!" * 2000}
    rows = [
        {"messages": [SYSTEM, USER, REPLY]},
        {"messages": [SYSTEM, {"role": "assistant", "content": "You're great!"}]},
        {"messages": [SYSTEM, {"role": "user", "content": "I'm hungry."}, banana]},
    ]
    report = validate_file(write_jsonl(tmp_path / "toy.jsonl", rows))
    found = {(p.line, p.severity, p.message.split(":")[0]) for p in report.problems}
    assert found == {(2, "warning", "no user message"), (3, "warning", "repetitive reply")}
    assert report.openai_checks["example_missing_user_message"] == 1
    assert not report.errors  # OpenAI accepts both rows too; they are worth a look, not fatal


def test_unknown_keys_are_the_same_for_validate_and_the_record_rule(tmp_path):
    from tuneforge.data.records import unknown_record_keys

    record = {"messages": [USER, REPLY], "source": "web", "metadata": {"a": 1}}
    assert unknown_record_keys(record) == ["source"]
    report = validate_file(write_jsonl(tmp_path / "keys.jsonl", [record]))
    assert [(p.field, p.severity) for p in report.problems] == [("source", "warning")]
    assert openai_checks(record) == set()  # OpenAI's checks judge keys inside messages only
    assert unknown_record_keys({"instruction": "x", "output": "y", "source": "web"}) == []


def test_tool_records_a_template_cannot_render_are_one_error(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "glaive.jsonl", [GLAIVE, GLAIVE, {"messages": [USER, REPLY]}])
    report = validate_file(path, tokenizer, max_length=512)
    (error,) = report.errors
    assert error.field == "tools" and error.message.startswith("2 records (lines 1, 2)")
    assert "--tool-format json" in error.message
    assert not validate_file(path, tokenizer, max_length=512, tool_format="json").errors


def test_many_records_with_one_problem_print_once_with_a_count(tmp_path, capsys):
    from tuneforge.cli.main import main

    strings = tmp_path / "strings.jsonl"
    strings.write_text("".join(json.dumps(f"sentence {i}") + "\n" for i in range(250)))
    assert main(["data", "validate", str(strings)]) == 1
    out = capsys.readouterr().out.splitlines()
    (line,) = [text for text in out if text.startswith("error")]
    assert "a bare JSON string, not a record" in line
    assert "(250 records: lines 1, 2, 3, 4, 5, ...)" in line

    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": f"Q{i}?"} for i in range(8)])
    assert main(["data", "validate", str(prompts)]) == 1
    (line,) = [text for text in capsys.readouterr().out.splitlines() if text.startswith("error")]
    assert "prompt-only record" in line and "--method grpo" in line and "(8 records" in line
    assert main(["data", "validate", str(prompts), "--method", "grpo"]) == 0


def test_prepare_counts_the_keys_validate_calls_unknown(tmp_path):
    from tuneforge.config.prepare import PrepareConfig
    from tuneforge.data.prepare import prepare

    rows = [
        {"messages": [USER, {**REPLY, "content": f"Reply number {i}."}], "source": "web"}
        for i in range(6)
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    cfg = PrepareConfig(model=TINY, split=(1.0, 0.0, 0.0), num_proc=1)
    result = prepare(str(source), tmp_path / "out", cfg)
    assert result.report["unknown_keys"] == {"source": 6}
    assert "Unknown keys, left out of the output: `source` (6 records)." in (
        (tmp_path / "out" / "report.md").read_text()
    )
    report = validate_file(source)  # the same six, as warnings there: the records are kept
    assert [p.severity for p in report.problems] == ["warning"] * 6 and report.valid == 6
