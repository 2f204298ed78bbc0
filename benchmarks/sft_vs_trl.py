"""SFT LoRA throughput, memory and loss: TuneForge against TRL's SFTTrainer, same data and settings.

    .venv/bin/python benchmarks/sft_vs_trl.py [--records 96] [--only ours,trl_default] [--data FILE]
        [--precision fp32|bf16]

Contenders (each in its own subprocess, so its peak RSS is its own): ours (`tuneforge train`,
default settings), ours_packed (data.packing=true; in the JSON only when faster), trl_default,
trl_tuned (packing=True, gradient_checkpointing=False) and ceiling (bare forward+backward of the
same LoRA model on full 8x256 batches). --precision bf16 makes every contender compute in bf16
autocast over float32 weights (default fp32); the shared final-loss evaluation is float32 for
all. What is measured and how: docs/benchmarks.md.
The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from side_by_side import OURS_MIXED_PRECISION, add_precision_arg, peak_rss_mb, run_contender

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATA = DATA_DIR / "sft" / "fastchat_alpaca_data_cleaned_1000.json"
CONTENDERS = ("ours", "ours_packed", "trl_default", "trl_tuned", "ceiling")
SHARED = dict(r=16, alpha=32, dropout=0.05, batch=8, max_length=256, epochs=1, lr=2e-4, seed=42)
TARGETS = (  # (metric, compared with, bound on ours / it: ">=" min, "<=" max, "~" |ratio - 1| max)
    ("tokens_per_second", "trl_default", ">=", 2.5),
    ("tokens_per_second", "trl_tuned", ">=", 1.3),
    ("tokens_per_second", "ceiling", ">=", 0.85),
    ("peak_rss_mb", "trl_default", "<=", 0.60),
    ("final_loss", "trl_default", "~", 0.02),
)
COLUMNS = (  # (header, result key, format) of the results table
    ("tokens/s", "tokens_per_second", "{:.1f}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("final loss", "final_loss", "{:.4f}"),
    ("last logged loss", "last_logged_loss", "{:.4f}"),
    ("tokens", "train_tokens", "{:d}"),
    ("trained", "trained_tokens", "{:d}"),
    ("train s", "train_seconds", "{:.1f}"),
    ("steps", "steps", "{:d}"),
)


# ---------------------------------------------------------------- data and shared evaluation


def load_pairs(path: Path, n: int) -> list[tuple[str, str]]:
    """(user, assistant) of the first n Alpaca records; user = instruction [+ blank + input]."""
    records = json.loads(path.read_text(encoding="utf-8"))[:n]
    return [
        (r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else ""), r["output"])
        for r in records
    ]


def load_base(model_path: str):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)


def lora_config():
    from peft import LoraConfig

    lora = dict(r=SHARED["r"], lora_alpha=SHARED["alpha"], lora_dropout=SHARED["dropout"])
    return LoraConfig(task_type="CAUSAL_LM", target_modules="all-linear", **lora)


def tokenized(pairs, model_path: str):
    """(examples, pad id) by TuneForge's tokenization: the chat template, with loss targets on
    the assistant turn only (through its end-of-turn token), truncated to max_length."""
    from tuneforge.data import ChatExample, Message, tokenize_examples
    from tuneforge.models import load_tokenizer

    tokenizer = load_tokenizer(model_path, lambda _: None)
    examples = [ChatExample((Message("user", u, 0), Message("assistant", a))) for u, a in pairs]
    examples = tokenize_examples(examples, tokenizer, SHARED["max_length"], "benchmark")[0]
    return examples, tokenizer.pad_token_id


def assistant_loss(model, model_path: str, pairs) -> float:
    """Token-weighted mean cross-entropy on assistant tokens, in eval mode (no dropout), in
    float32 whatever precision trained the model, so every contender's loss is comparable."""
    import torch
    import torch.nn.functional as F

    from tuneforge.data import IGNORE, collate

    # An autocast wrapper left on forward (accelerate's) would re-enable bf16 inside.
    assert "_original_forward" not in vars(model), "model.forward still carries autocast"
    assert all(p.dtype == torch.float32 for p in model.parameters()), "weights are not float32"
    examples, pad_id = tokenized(pairs, model_path)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), SHARED["batch"]):
            batch = collate(examples[start : start + SHARED["batch"]], pad_id)
            inputs = dict(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
            logits = model(**inputs, use_cache=False).logits
            keep = batch.targets != IGNORE
            loss = F.cross_entropy(logits[keep].float(), batch.targets[keep], reduction="sum")
            total, count = total + loss.item(), count + int(keep.sum())
    return total / count


# ---------------------------------------------------------------- contenders (run in a worker)


def chat(user: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def ours_config(args, train_file: Path, run_dir: Path) -> dict:
    return {
        "model": {"name_or_path": args.model, "dtype": "float32", "gradient_checkpointing": False},
        "adapter": {"type": "lora", "r": SHARED["r"], "alpha": SHARED["alpha"],
                    "dropout": SHARED["dropout"], "target_modules": "all-linear"},
        "data": {"train": str(train_file), "max_length": SHARED["max_length"]},
        "train": {"epochs": SHARED["epochs"], "batch_size": SHARED["batch"], "lr": SHARED["lr"],
                  "scheduler": "linear", "warmup_ratio": 0.0, "weight_decay": 0.0,
                  "max_grad_norm": 1.0, "seed": SHARED["seed"],
                  "mixed_precision": OURS_MIXED_PRECISION[args.precision], "log_every": 1},
        "output": {"dir": str(run_dir), "overwrite": True},
    }  # fmt: skip


def run_ours(args, work: Path, packed: bool) -> dict:
    """The real CLI in a child process; its peak RSS is RUSAGE_CHILDREN once it has exited."""
    import yaml

    pairs = load_pairs(args.data, args.records)
    train_file, run_dir, config = work / "train.jsonl", work / "run", work / "config.yaml"
    train_file.write_text("".join(json.dumps({"messages": chat(u, a)}) + "\n" for u, a in pairs))
    config.write_text(yaml.safe_dump(ours_config(args, train_file, run_dir), sort_keys=False))
    cli = Path(sys.executable).with_name("tuneforge")
    packing = f"data.packing={str(packed).lower()}"
    overrides = [packing, *args.ours_set]
    subprocess.run([str(cli), "train", str(config), *overrides], check=True, stdout=sys.stderr)
    rss = peak_rss_mb(resource.RUSAGE_CHILDREN)
    from peft import PeftModel  # imported only now: the worker stays small while the CLI trains

    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    model = PeftModel.from_pretrained(load_base(args.model_path), summary["output"])
    return {
        "tokens_per_second": summary["tokens_per_second"],
        "peak_rss_mb": rss,
        "final_loss": assistant_loss(model, args.model_path, pairs),
        "last_logged_loss": [row["loss"] for row in metrics if "loss" in row][-1],
        "train_tokens": summary["train_tokens"],
        "trained_tokens": summary["trained_tokens"],
        "train_seconds": summary["train_seconds"],
        "steps": summary["steps"],
        "packing": packed,
        "overrides": args.ours_set,
    }


def trl_callback():
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        """Training time from the first step's start to the last step's end; the logged losses."""

        def __init__(self):
            self.start = self.end = 0.0
            self.logs: list[dict] = []

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.end = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            self.logs.append(dict(logs or {}))

    return Clock()


def float32_forward(trainer):
    """The trained model with the autocast wrapper that accelerate put on its forward (under
    bf16=True) taken off again, for the float32 evaluation."""
    return trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)


def run_trl(args, work: Path, tuned: bool) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    pairs = load_pairs(args.data, args.records)
    # Conversational prompt/completion: TRL masks the loss to the completion.
    rows = [{"prompt": chat(u, a)[:1], "completion": chat(u, a)[1:]} for u, a in pairs]
    dataset = Dataset.from_list(rows)
    extra = {"packing": True, "gradient_checkpointing": False} if tuned else {}
    config = SFTConfig(
        output_dir=str(work / "trl"), per_device_train_batch_size=SHARED["batch"],
        num_train_epochs=SHARED["epochs"], learning_rate=SHARED["lr"], lr_scheduler_type="linear",
        warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, seed=SHARED["seed"],
        bf16=args.precision == "bf16", fp16=False, use_cpu=True, max_length=SHARED["max_length"],
        logging_steps=1, save_strategy="no", eval_strategy="no", report_to="none", **extra,
    )  # fmt: skip
    set_seed(SHARED["seed"])  # before the LoRA weights are initialised, as ours does
    clock = trl_callback()
    trainer = SFTTrainer(
        model=load_base(args.model_path), args=config, train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(args.model_path),
        peft_config=lora_config(), callbacks=[clock],
    )  # fmt: skip
    # Every prepared row is fed once per epoch, unpadded (dataloader_drop_last is False).
    tokens = SHARED["epochs"] * sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    trained = sum(t != -100 for row in trainer.train_dataset["labels"] for t in row[1:])
    trainer.train()
    rss = peak_rss_mb()
    seconds = clock.end - clock.start
    step_logs = [log for log in clock.logs if "loss" in log]
    return {
        "tokens_per_second": tokens / seconds,
        "peak_rss_mb": rss,
        "final_loss": assistant_loss(float32_forward(trainer), args.model_path, pairs),
        "last_logged_loss": step_logs[-1]["loss"],
        "train_tokens": tokens,
        "trained_tokens": SHARED["epochs"] * trained,
        "trl_num_tokens": step_logs[-1].get("num_tokens"),
        "train_seconds": round(seconds, 3),
        "steps": trainer.state.global_step,
        "gradient_checkpointing": config.gradient_checkpointing,
        "packing": config.packing,
    }


def autocast(precision: str):
    """bf16 autocast over float32 weights, as ours and TRL compute under bf16 (the backward
    ops follow the dtypes the forward used, inside autocast or not)."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def run_ceiling(args) -> dict:
    """Forward+backward of the LoRA model with HF's own loss on full rows of real tokens; one
    untimed warm-up step, then as many steps as the data holds tokens (at least two)."""
    import torch
    from peft import get_peft_model

    examples, _ = tokenized(load_pairs(args.data, args.records), args.model_path)
    ids = [t for e in examples for t in e.input_ids]
    row = SHARED["batch"] * SHARED["max_length"]
    steps = max(2, len(ids) // row)
    ids = (ids * (steps * row // len(ids) + 1))[: steps * row]  # cycled if the data is short
    blocks = torch.tensor(ids).view(steps, SHARED["batch"], SHARED["max_length"])
    torch.manual_seed(SHARED["seed"])
    model = get_peft_model(load_base(args.model_path), lora_config())
    model.train()

    def step(i: int) -> None:
        x = blocks[i]
        with autocast(args.precision):
            model(
                input_ids=x, attention_mask=torch.ones_like(x), labels=x, use_cache=False
            ).loss.backward()
        model.zero_grad(set_to_none=True)

    step(0)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    seconds = time.perf_counter() - started
    return {
        "tokens_per_second": steps * row / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "train_tokens": steps * row,
        "train_seconds": round(seconds, 3),
        "steps": steps,
    }


def worker(args) -> None:
    work = Path(args.workdir) / args.worker
    work.mkdir(parents=True, exist_ok=True)
    if args.worker == "ceiling":
        result = run_ceiling(args)
    elif args.worker.startswith("ours"):
        result = run_ours(args, work, packed=args.worker == "ours_packed")
    else:
        result = run_trl(args, work, tuned=args.worker == "trl_tuned")
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- the parent: run, compare, report


def spawn(name: str, args, workdir: Path) -> dict:
    """One contender in a fresh interpreter; its chatter goes to a log, shown on failure."""
    result, log = workdir / f"{name}.json", workdir / f"{name}.log"
    command = [sys.executable, __file__, "--worker", name, "--workdir", str(workdir)]
    command += ["--result", str(result), "--records", str(args.records), "--data", str(args.data)]
    command += ["--model", args.model, "--model-path", args.model_path]
    command += ["--precision", args.precision]
    command += [f"--ours-set={item}" for item in args.ours_set]
    return run_contender(name, command, result, log)


def check_targets(results: dict) -> list[dict]:
    """Each target for ours (and ours_packed when reported), where both sides were measured."""
    checks = []
    for mine in ("ours", "ours_packed"):
        for metric, other, kind, bound in TARGETS:
            a, b = results.get(mine, {}), results.get(other, {})
            if metric in a and metric in b:
                value = a[metric] / b[metric] if kind != "~" else abs(a[metric] / b[metric] - 1)
                passed = value >= bound if kind == ">=" else value <= bound
                target = f"{metric} vs {other} " + (
                    f"within {bound:.0%}" if kind == "~" else f"{kind} {bound:g}x"
                )
                checks.append(dict(who=mine, target=target, value=value, passed=passed))
    return checks


def print_tables(results: dict, checks: list[dict], precision: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    table = Table(title=f"SFT LoRA on CPU, {precision}: TuneForge vs TRL")
    table.add_column("contender")
    for header, _, _ in COLUMNS:
        table.add_column(header, justify="right")
    for name, row in results.items():
        if "error" in row:
            table.add_row(name, f"[red]{row['error']}[/]")
            continue
        table.add_row(name, *(fmt.format(row[k]) if k in row else "-" for _, k, fmt in COLUMNS))
    console.print(table)
    if checks:
        verdicts = Table(title=f"Targets ({precision})")
        for column in ("", "target", "measured", "result"):
            verdicts.add_column(column)
        for c in checks:
            value = f"{c['value']:.1%}" if "within" in c["target"] else f"{c['value']:.2f}x"
            verdict = "[green]pass[/]" if c["passed"] else "[red]FAIL[/]"
            verdicts.add_row(c["who"], c["target"], value, verdict)
        console.print(verdicts)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=96, help="first N records (default 96)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(CONTENDERS)}")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Alpaca JSON list file")
    add_precision_arg(parser)
    parser.add_argument(
        "--ours-set", action="append", default=[], metavar="KEY=VALUE",
        help="extra config override for our contenders, e.g. train.max_tokens_per_forward=512",
    )  # fmt: skip
    hidden = argparse.SUPPRESS
    parser.add_argument("--model", default="smollm2-135m-instruct", help=hidden)
    for flag in ("--model-path", "--worker", "--workdir", "--result"):
        parser.add_argument(flag, help=hidden)
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CONTENDERS)
    unknown = sorted(set(names) - set(CONTENDERS))
    if unknown:
        parser.error(f"--only: unknown {unknown}; choose from {', '.join(CONTENDERS)}")
    if args.records < 1:
        parser.error("--records must be at least 1")
    args.names = [n for n in CONTENDERS if n in names]
    return args


def check_data(path: Path) -> None:
    if path == DEFAULT_DATA and not DATA_DIR.is_dir():
        sys.exit(
            f"error: the shared data directory {DATA_DIR} (../shared/data beside the repo) is "
            "missing; benchmark data is never copied into the repo. Provide it there, or pass "
            "--data FILE (an Alpaca JSON list)."
        )
    if not path.is_file():
        sys.exit(f"error: {path}: no such file; pass --data FILE (an Alpaca JSON list)")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    check_data(args.data)
    from tuneforge.models import resolve_model_path

    # Built once here (the default model is converted from GGUF on first use), never in a timing.
    args.model_path = resolve_model_path(args.model, lambda m: print(m, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="sft-vs-trl-") as tmp:
        results = {name: spawn(name, args, Path(tmp)) for name in args.names}
    report = dict(results)
    speed = {name: row.get("tokens_per_second", 0.0) for name, row in results.items()}
    if "ours_packed" in speed and speed["ours_packed"] <= speed.get("ours", 0.0):
        print("ours_packed is not faster than ours: left out of the JSON", file=sys.stderr)
        del report["ours_packed"]
    checks = check_targets(report)
    print_tables(results, checks, args.precision)
    report["precision"] = args.precision
    report["targets"] = {f"{c['who']}: {c['target']}": c["passed"] for c in checks}
    print(json.dumps(report))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
