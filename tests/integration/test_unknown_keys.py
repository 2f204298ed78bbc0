"""`data validate`, `data prepare` and training read one file the same way: an unknown
key beside `messages` fails none of OpenAI's format checks, so the record is kept (a
warning in validate, left out of prepare's output, ignored by training); an unknown key
inside a message is OpenAI's `message_unrecognized_key`, so every command refuses the
record (records.py states the rule)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY, chat_records, tiny_config, write_jsonl
from tuneforge.cli.main import main
from tuneforge.config.prepare import PrepareConfig
from tuneforge.data.prepare import prepare
from tuneforge.errors import DataError
from tuneforge.train.setup import load_training_data

N = 6


def prepared(source, out) -> tuple[dict, list[dict]]:
    cfg = PrepareConfig(model=TINY, num_proc=1, split=(1.0, 0.0, 0.0), dedup="off")
    report = prepare(str(source), out, cfg).report
    return report, [json.loads(line) for line in (out / "train.jsonl").open()]


def test_an_unknown_key_beside_messages_is_kept_out_by_all_three(tmp_path, capsys, tokenizer):
    records = [{**record, "meta": {"source": "web", "n": i}} for i, record in enumerate(
        chat_records(N, seed=4))]  # fmt: skip
    source = write_jsonl(tmp_path / "meta.jsonl", records)

    assert main(["data", "validate", str(source), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] == N and report["errors"] == 0
    assert {(p["field"], p["severity"]) for p in report["problems"]} == {("meta", "warning")}
    assert report["openai_checks"]["message_unrecognized_key"] == 0

    summary, written = prepared(source, tmp_path / "out")
    assert summary["unknown_keys"] == {"meta": N}
    assert len(written) == N and not [r for r in written if "meta" in r]

    cfg = tiny_config(source, tmp_path / "run", "data.max_length=64")
    assert len(load_training_data(cfg, tokenizer).train) == N


def test_an_unknown_key_inside_a_message_is_refused_by_all_three(tmp_path, capsys, tokenizer):
    records = chat_records(N, seed=5)
    records[2]["messages"][1]["mood"] = "happy"  # line 3
    source = write_jsonl(tmp_path / "mood.jsonl", records)

    assert main(["data", "validate", str(source), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (error,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert (error["line"], error["field"]) == (3, "messages[1].mood")
    assert report["openai_checks"]["message_unrecognized_key"] == 1

    summary, written = prepared(source, tmp_path / "out")
    assert summary["records_written"] == N - 1
    assert not [r for r in written if "mood" in json.dumps(r)]

    cfg = tiny_config(source, tmp_path / "run", "data.max_length=64")
    with pytest.raises(DataError, match=r"mood\.jsonl:3: messages\[1\]\.mood: unknown key"):
        load_training_data(cfg, tokenizer)
