"""The regression report on the real model: does it see a task gain, does it see what an
aggressive run costs, and do replay and EWC cost less?

    .venv/bin/python benchmarks/forgetting_proof.py [--output forgetting-proof] [--only lora,full]
        [--report-only]

On SmolLM2-135M-Instruct (CPU), the quickstart's task (orders to JSON: 200 training
examples, 50 held out) is trained four ways, each followed by the report that its `eval:`
section asks for (`tuneforge train`'s own path), against the same base:

- lora:        the quickstart's LoRA run (r 16, lr 1e-3, 1 epoch);
- full:        deliberately aggressive: full fine-tuning at lr 1e-4 for 3 epochs on the
               same narrow data;
- full+replay: the same, with general chat records replayed at a token ratio of 0.5;
- full+ewc:    the same, with the EWC penalty (Fisher from those general records).

General data for replay and the Fisher: `../shared/data/sft/llamafactory_alpaca_gpt4_en_demo.json`
(public, see its PROVENANCE.md); the general-ability suite adds one MMLU subject
(`high_school_geography`, test split) as a multiple-choice task beside the built-in probe.

The LAST line of output is one JSON object: {RUN: {"task": {...}, "general": {...},
"overfitting": {...}, "train_seconds"}} with each metric's base, tuned, p-value and verdict.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import zipfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GENERAL_CHAT = SHARED / "sft" / "llamafactory_alpaca_gpt4_en_demo.json"
MMLU_ZIP = SHARED / "eval" / "mmlu.zip"
SUBJECT = "high_school_geography"
MODEL = "smollm2-135m-instruct"
FIELDS = ("name", "city", "product", "quantity")

AGGRESSIVE = {
    "adapter": {"type": "full"},
    "train": {"epochs": 3, "batch_size": 8, "lr": 1e-4, "warmup_ratio": 0.0, "log_every": 5,
              "eval_every": 10},
}  # fmt: skip
RUNS = {
    "lora": {
        "adapter": {"type": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "log_every": 5, "eval_every": 5},
    },
    "full": AGGRESSIVE,
    "full+replay": AGGRESSIVE | {"replay": {"path": str(GENERAL_CHAT), "ratio": 0.5}},
    "full+ewc": AGGRESSIVE
    | {"ewc": {"lambda": 1.0e5, "fisher_samples": 128, "data": str(GENERAL_CHAT)}},
}


def write_task_data(folder: Path) -> tuple[Path, Path, Path]:
    """The quickstart's train/held-out split and one MMLU subject as a CSV."""
    from tuneforge.quickstart.run import _write_data

    train, test, _ = _write_data(folder, 200, 50)
    with zipfile.ZipFile(MMLU_ZIP) as archive:
        name = next(n for n in archive.namelist() if n.endswith(f"test/{SUBJECT}_test.csv"))
        rows = list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
    mmlu = folder / f"mmlu_{SUBJECT}.csv"
    with open(mmlu, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return train, test, mmlu


def config(name: str, root: Path, train: Path, test: Path, mmlu: Path) -> dict:
    run = RUNS[name]
    cfg = {
        "model": {"name_or_path": MODEL},
        "adapter": run["adapter"],
        "data": {"train": str(train), "max_length": 256, "validation_split": 0.1},
        "train": {**run["train"], **({"ewc": run["ewc"]} if "ewc" in run else {})},
        "output": {"dir": str(root / name.replace("+", "_")), "overwrite": True},
        "eval": {
            "tasks": [
                {"kind": "generate", "path": str(test), "name": "orders",
                 "scorers": ["field_accuracy", "json_valid"],
                 "scorer_options": {"field_accuracy": {"fields": list(FIELDS)}},
                 "max_new_tokens": 48},
            ],
            "general_tasks": [{"kind": "choice", "path": str(mmlu), "name": "mmlu_geography"}],
            "batch_size": 16,
        },
    }  # fmt: skip
    if "replay" in run:
        cfg["data"]["replay"] = run["replay"]
    return cfg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="forgetting-proof")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(RUNS)}")
    parser.add_argument(
        "--report-only", action="store_true",
        help="keep the runs already in --output and write their reports again",
    )  # fmt: skip
    args = parser.parse_args()
    for needed in (GENERAL_CHAT, MMLU_ZIP):
        if not needed.exists():
            print(f"missing {needed}: this proof reads ../shared/data", file=sys.stderr)
            return 2
    from tuneforge.config import RunConfig
    from tuneforge.eval.report.after_training import report_after_training
    from tuneforge.run_dir import RunDir
    from tuneforge.train import train

    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    data = write_task_data(root)
    results = {}
    for name in args.only.split(",") if args.only else RUNS:
        cfg = RunConfig.model_validate(config(name, root, *data))
        print(f"== {name}", flush=True)
        if args.report_only:
            summary = RunDir(Path(cfg.output.dir)).read_summary() or {}
        else:
            summary = train(cfg)
        report = report_after_training(cfg)
        assert report is not None
        results[name] = {
            section: report[section] for section in ("task", "general", "overfitting")
        } | {"train_seconds": summary.get("train_seconds")}
        print(table(name, report), flush=True)
    print(json.dumps(results))
    return 0


def table(name: str, report: dict) -> str:
    lines = [f"| {name} | metric | base | tuned | p | verdict |", "|---|---|---|---|---|---|"]
    for section in ("task", "general"):
        for metric, e in report[section].items():
            p = "-" if e["p_value"] is None else f"{e['p_value']:.3g}"
            values = f"{e['base']:.4g} | {e['tuned']:.4g}"
            lines.append(f"| {section} | {metric} | {values} | {p} | {e['verdict']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
