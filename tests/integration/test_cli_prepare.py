"""`tuneforge data prepare` as a user runs it: a subprocess, its exit code, its summary
and the files it leaves behind."""

from __future__ import annotations

import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY, chat_records, sentence, write_jsonl
from tuneforge.data.records import parse_record

pytestmark = pytest.mark.slow
SPLITS = ("train", "validation", "test")


def tuneforge(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tuneforge.cli.main", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def prepare_cli(source: str, out: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    return tuneforge(
        "data", "prepare", source, "-o", out, "--model", TINY, "--split", "0.8,0.1,0.1",
        "--seed", "3", "--pii", "redact", "--dedup", "minhash", "--num-proc", "1", *extra,
        cwd=cwd,
    )  # fmt: skip


def written(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for name in SPLITS
        for line in (out / f"{name}.jsonl").read_text().splitlines()
    ]


def summary_counts(result: subprocess.CompletedProcess) -> tuple[int, int]:
    match = re.search(r"([\d,]+) records read, ([\d,]+) written", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    read, wrote = (int(n.replace(",", "")) for n in match.groups())
    return read, wrote


def test_prepare_writes_splits_and_reports(tmp_path):
    records = [
        *chat_records(20, seed=4),
        '{"messages": [',  # malformed
        {"instruction": "How do I reach you?", "output": "Mail jane.doe@fastmail.fm today."},
        {"instruction": "Name the river.", "output": "The river is long and slow."},
        {"instruction": "NAME the  river.", "output": "the river is long and SLOW."},
    ]
    write_jsonl(tmp_path / "in.jsonl", records)
    result = prepare_cli("in.jsonl", "out", tmp_path)
    assert result.returncode == 0, result.stderr

    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    assert summary_counts(result) == (24, report["records_written"])
    assert report["records_read"] == 24
    steps = {step["step"]: step for step in report["steps"]}
    assert steps["parse"]["removed"] == 1
    assert steps["pii"]["changed"] == 1
    assert steps["dedup"]["reasons"]["exact duplicate"] == 1
    rows = written(out)
    assert len(rows) == report["records_written"] == 24 - 1 - 1
    assert sum(report["splits"].values()) == len(rows)
    assert report["config"]["split"] == [0.8, 0.1, 0.1] and report["config"]["seed"] == 3
    for name in ("report.md", "report.html", "lengths.png"):
        assert (out / name).is_file(), name
    replies = [r["messages"][-1]["content"] for r in rows]
    assert "Mail <EMAIL> today." in replies
    assert all(parse_record(r, "out", 0) for r in rows)
    assert not (tmp_path / "out.partial").exists()


def test_bad_split_is_refused(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", chat_records(4))
    result = tuneforge(
        "data", "prepare", "in.jsonl", "-o", "out", "--split", "0.5,0.5,0.5", cwd=tmp_path
    )
    assert result.returncode != 0
    assert "split" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_input_file(tmp_path):
    result = prepare_cli("absent.jsonl", "out", tmp_path)
    assert result.returncode == 1
    assert "absent.jsonl: file not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.partial").exists()


def test_csv_input(tmp_path):
    rng = random.Random(6)
    rows = [(f"Task {i}: {sentence(rng, 3, 6)}", sentence(rng, 5, 10)) for i in range(12)]
    with (tmp_path / "in.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "output"])
        writer.writerows(rows)
    result = prepare_cli("in.csv", "out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_counts(result) == (12, 12)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["formats"] == {"alpaca": 12}
    pairs = {
        (r["messages"][0]["content"], r["messages"][1]["content"])
        for r in written(tmp_path / "out")
    }
    assert pairs == set(rows)


def test_json_list_input(tmp_path):
    records = chat_records(10, seed=7)
    (tmp_path / "in.json").write_text(json.dumps(records, indent=2))
    result = prepare_cli("in.json", "out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_counts(result) == (10, 10)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["formats"] == {"openai": 10}
    rows = written(tmp_path / "out")
    assert sorted(map(json.dumps, rows)) == sorted(map(json.dumps, records))
