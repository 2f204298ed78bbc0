"""The quickstart: LoRA-fine-tune the model on a small extraction task, then the regression
report (tuneforge eval --against) scores base and tuned side by side on held-out examples
and on general ability, with intervals and verdicts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tuneforge.config import RunConfig
from tuneforge.eval.report.after_training import report_after_training
from tuneforge.models.registry import DEFAULT_MODEL
from tuneforge.quickstart.task import FIELDS, make_examples
from tuneforge.run_dir import RunDir
from tuneforge.train import train

METRIC = "field_accuracy"
TASK = "orders"
SEED = 7


def run_quickstart(
    output: str | Path,
    model: str = DEFAULT_MODEL,
    train_examples: int = 200,
    eval_examples: int = 50,
    console: Console | None = None,
) -> dict[str, Any]:
    console = console or Console(emoji=False)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run = RunDir(output / "run")
    train_file, test_file, held_out = _write_data(output, train_examples, eval_examples)
    console.print(
        f"[bold]task[/]: extract an order as JSON; {train_examples} training examples, "
        f"{len(held_out)} held out (never trained on), data in {output}"
    )

    console.rule("LoRA fine-tuning, then the base and the tuned model side by side")
    cfg = RunConfig.model_validate(
        {
            "model": {"name_or_path": model},
            "adapter": {"type": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
            "data": {"train": str(train_file), "max_length": 256, "validation_split": 0.1},
            # A high LoRA learning rate suits a small model and a short run.
            "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "log_every": 1, "eval_every": 5},
            "output": {"dir": str(run.root), "overwrite": True},
            # The regression report: the task (held-out field accuracy) and general ability.
            "eval": {
                "tasks": [
                    {
                        "kind": "generate", "path": str(test_file), "name": TASK,
                        "scorers": [METRIC, "json_valid"],
                        "scorer_options": {METRIC: {"fields": list(FIELDS)}},
                        "max_new_tokens": 48,
                    }
                ],
                "batch_size": 25,
            },
        }
    )  # fmt: skip
    summary = train(cfg)
    report = report_after_training(cfg, log=console.print)
    assert report is not None  # cfg.eval is set
    task, general = report["task"][METRIC], report["general"]
    samples = {role: _samples(run.root / "eval", role) for role in ("base", "tuned")}
    result = {
        "metric": METRIC,
        "before": task["base"],
        "after": task["tuned"],
        "improvement_points": round(100 * task["delta"], 1),
        "p_value": task["p_value"],
        "verdict": task["verdict"],
        "general": {
            name: {k: e[k] for k in ("base", "tuned", "verdict")} for name, e in general.items()
        },
        "held_out_examples": len(held_out),
        "train_examples": train_examples,
        "model": model,
        "run_dir": str(run.root),
        "loss_plot": str(run.plot),
        "report": str(run.root / "eval" / "report.md"),
        "train_seconds": summary["train_seconds"],
        "total_seconds": round(time.perf_counter() - started, 1),
        "samples": [
            {"message": ex["messages"][1]["content"], "expected": ex["messages"][2]["content"],
             "before": b["prediction"], "after": a["prediction"]}
            for ex, b, a in list(zip(held_out, samples["base"], samples["tuned"], strict=True))[:3]
        ],
    }  # fmt: skip
    (output / "quickstart.json").write_text(json.dumps(result, indent=2) + "\n")
    _report(console, result)
    return result


def _write_data(output: Path, n_train: int, n_eval: int) -> tuple[Path, Path, list[dict]]:
    """Train and held-out splits with no user message in common."""
    seen, unique = set(), []
    for record in make_examples(2 * (n_train + n_eval), SEED):
        message = record["messages"][1]["content"]
        if message not in seen:
            seen.add(message)
            unique.append(record)
    train_records, held_out = unique[:n_train], unique[n_train : n_train + n_eval]
    for name, records in (("train.jsonl", train_records), ("test.jsonl", held_out)):
        (output / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    return output / "train.jsonl", output / "test.jsonl", held_out


def _samples(folder: Path, role: str) -> list[dict[str, Any]]:
    lines = (folder / "samples" / role / f"{TASK}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _report(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"held-out {METRIC} ({result['held_out_examples']} examples)")
    table.add_column("model")
    table.add_column(METRIC, justify="right")
    table.add_row("base", f"{result['before']:.2f}")
    table.add_row("fine-tuned (LoRA)", f"{result['after']:.2f}")
    console.print(table)
    console.print(f"task: {result['verdict']} (paired bootstrap p = {result['p_value']:.3g})")
    for name, entry in result["general"].items():
        console.print(
            f"general {name}: {entry['base']:.4g} -> {entry['tuned']:.4g}: {entry['verdict']}"
        )
    sample = result["samples"][0]
    # Model replies are user-facing text: escaped, so "[x]" or ":100:" print as written.
    console.print(f"[bold]message[/]:    {escape(sample['message'])}")
    console.print(f"[bold]base[/]:       {escape(repr(sample['before'][:160]))}")
    console.print(f"[bold]fine-tuned[/]: {escape(repr(sample['after'][:160]))}")
    console.print(
        f"run directory: {result['run_dir']}\nloss plot:     {result['loss_plot']}\n"
        f"report:        {result['report']}\n"
        f"try it:        tuneforge chat --adapter {result['run_dir']}\n"
        f"total time:    {result['total_seconds']:.0f} s"
    )
