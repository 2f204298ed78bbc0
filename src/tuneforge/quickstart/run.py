"""The quickstart: score the base model, LoRA-fine-tune it, score it again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tuneforge.config import RunConfig
from tuneforge.eval.scorers import field_accuracy
from tuneforge.models.inference import generate_replies, load_for_inference
from tuneforge.models.registry import DEFAULT_MODEL
from tuneforge.quickstart.task import FIELDS, make_examples
from tuneforge.run_dir import RunDir
from tuneforge.train import train

METRIC = "field_accuracy"
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
    train_file, held_out = _write_data(output, train_examples, eval_examples)
    console.print(
        f"[bold]task[/]: extract an order as JSON; {train_examples} training examples, "
        f"{len(held_out)} held out (never trained on), data in {output}"
    )

    console.rule("base model")
    base, tokenizer = load_for_inference(model, log=console.print)
    before, before_replies = _score(base, tokenizer, held_out)
    console.print(f"base {METRIC}: {before:.2f}")
    del base

    console.rule("LoRA fine-tuning")
    cfg = RunConfig.model_validate(
        {
            "model": {"name_or_path": model},
            "adapter": {"type": "lora", "r": 16, "alpha": 32, "dropout": 0.05},
            "data": {"train": str(train_file), "max_length": 256, "validation_split": 0.1},
            # A high LoRA learning rate suits a small model and a short run.
            "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "log_every": 1, "eval_every": 5},
            "output": {"dir": str(run.root), "overwrite": True},
        }
    )
    summary = train(cfg)

    console.rule("fine-tuned model")
    tuned, tokenizer = load_for_inference(model, run.root, log=console.print)
    after, after_replies = _score(tuned, tokenizer, held_out)

    result = {
        "metric": METRIC,
        "before": before,
        "after": after,
        "improvement_points": round(100 * (after - before), 1),
        "held_out_examples": len(held_out),
        "train_examples": train_examples,
        "model": model,
        "run_dir": str(run.root),
        "loss_plot": str(run.plot),
        "train_seconds": summary["train_seconds"],
        "total_seconds": round(time.perf_counter() - started, 1),
        "samples": [
            {
                "message": ex["messages"][1]["content"],
                "expected": ex["messages"][2]["content"],
                "before": b,
                "after": a,
            }
            for ex, b, a in list(zip(held_out, before_replies, after_replies, strict=True))[:3]
        ],  # fmt: skip
    }
    (output / "quickstart.json").write_text(json.dumps(result, indent=2) + "\n")
    _report(console, result)
    return result


def _write_data(output: Path, n_train: int, n_eval: int) -> tuple[Path, list[dict]]:
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
    return output / "train.jsonl", held_out


def _score(model, tokenizer, records: list[dict]) -> tuple[float, list[str]]:
    prompts = [r["messages"][:2] for r in records]
    replies = generate_replies(model, tokenizer, prompts, max_new_tokens=48, batch_size=25)
    scores = [
        field_accuracy(reply, r["messages"][2]["content"], fields=FIELDS)
        for reply, r in zip(replies, records, strict=True)
    ]
    return sum(scores) / len(scores), replies


def _report(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"held-out {METRIC} ({result['held_out_examples']} examples)")
    table.add_column("model")
    table.add_column(METRIC, justify="right")
    table.add_row("base", f"{result['before']:.2f}")
    table.add_row("fine-tuned (LoRA)", f"{result['after']:.2f}")
    console.print(table)
    sample = result["samples"][0]
    # Model replies are user-facing text: escaped, so "[x]" or ":100:" print as written.
    console.print(f"[bold]message[/]:    {escape(sample['message'])}")
    console.print(f"[bold]base[/]:       {escape(repr(sample['before'][:160]))}")
    console.print(f"[bold]fine-tuned[/]: {escape(repr(sample['after'][:160]))}")
    console.print(
        f"run directory: {result['run_dir']}\nloss plot:     {result['loss_plot']}\n"
        f"try it:        tuneforge chat --adapter {result['run_dir']}\n"
        f"total time:    {result['total_seconds']:.0f} s"
    )
