"""`tuneforge train` reads every input format directly, with the same conversion as
`data prepare`: users may skip preparation."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import tiny_config, write_jsonl
from tuneforge.train import train

QUESTIONS = [(f"What is {a} plus {a}?", f"{a} plus {a} is {2 * a}.") for a in range(1, 9)]


def alpaca_csv(path):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "input", "output"])
        writer.writerows([q, "", a] for q, a in QUESTIONS)
    return path


def messages_parquet(path):
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in QUESTIONS
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def sharegpt_json(path):
    turns = [
        {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}]}
        for q, a in QUESTIONS
    ]
    path.write_text(json.dumps(turns, indent=2))
    return path


def preference_jsonl(path):
    return write_jsonl(path, [{"prompt": q, "chosen": a, "rejected": "No."} for q, a in QUESTIONS])


def kto_jsonl(path):
    records = [
        {"prompt": q, "completion": a, "label": i % 2 == 0} for i, (q, a) in enumerate(QUESTIONS)
    ]
    return write_jsonl(path, records)


@pytest.mark.parametrize(
    ("name", "write", "examples"),
    [
        ("alpaca.csv", alpaca_csv, 8),
        ("chat.parquet", messages_parquet, 8),
        ("sharegpt.json", sharegpt_json, 8),
        ("pairs.jsonl", preference_jsonl, 8),  # SFT on the chosen replies
        ("kto.jsonl", kto_jsonl, 4),  # SFT on the desirable replies only
    ],
)
def test_sft_trains_on_any_format(tmp_path, name, write, examples):
    data = write(tmp_path / name)
    summary = train(tiny_config(data, tmp_path / "run", "train.max_steps=1"))
    assert summary["status"] == "completed"
    assert summary["data"]["examples"] == examples
