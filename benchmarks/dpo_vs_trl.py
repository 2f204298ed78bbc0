"""DPO LoRA speed, memory and loss: TuneForge against TRL's DPOTrainer, same pairs and settings.

    .venv/bin/python benchmarks/dpo_vs_trl.py [--pairs 64] [--only ours,trl_default] [--data FILE]
        [--precision fp32|bf16]

The pairs are the first 64 of the file whose prompt + reply sequences both fit in
max_length whole (no contender truncates anything), the same for everyone.

Contenders, each in its own subprocess so its peak RSS is its own: ours (`tuneforge train`
with method.name=dpo, reference log-probs precomputed, its default), trl_default
(DPOTrainer defaults: the reference runs every step with the adapter disabled) and
trl_precompute (precompute_ref_log_probs=True). Shared settings: SmolLM2-135M-Instruct,
LoRA r=16 on all linear layers, batch 4, max_length 512, one epoch, sigmoid loss,
beta 0.1, float32 weights on CPU, computing in --precision: fp32 (default), or bf16
autocast for every contender (ours: train.mixed_precision=bf16, TRL: bf16=True).

pairs_per_second counts the whole job after the model is loaded: reference
log-probabilities (precomputed or per step) and training. final_loss is one shared
evaluation for every contender: the mean DPO loss of its trained adapter over the same
pairs, computed by the same code against the base model as reference, in float32
whatever precision trained it.

The LAST line of output is one JSON object: {"precision": "fp32", "ours": {...},
"trl_default": {...}, "trl_precompute": {...}}, each contender with pairs_per_second,
peak_rss_mb and final_loss.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from side_by_side import OURS_MIXED_PRECISION, add_precision_arg, peak_rss_mb, run_contender

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "preference"
    / "llamafactory_dpo_en_demo.json"
)
CONTENDERS = ("ours", "trl_default", "trl_precompute")
SHARED = dict(r=16, alpha=32, dropout=0.05, batch=4, max_length=512, lr=5e-5, beta=0.1, seed=42)
TARGETS = (  # (metric, compared with, ">=" min ratio ours/it, or "<=" max ratio)
    ("pairs_per_second", "trl_default", ">=", 2.0),
    ("pairs_per_second", "best_trl", ">=", 1.2),
    ("peak_rss_mb", "best_trl_rss", "<=", 0.70),
)


def first_pairs(path: Path, n: int) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))[:n]


def fitting_pairs(path: Path, n: int, model_path: str) -> list[dict]:
    """The first n records whose prompt + reply sequences both fit in max_length whole, so
    every contender trains on the same n pairs and the same tokens: nobody truncates,
    neither TRL's cut at max_length nor our prompt shortening (data/prompt_fit.py)."""
    from tuneforge.data.records import parse_record
    from tuneforge.models import load_tokenizer
    from tuneforge.train.paired import tokenize_pairs

    tokenizer = load_tokenizer(model_path)
    kept = []
    for i, record in enumerate(json.loads(path.read_text(encoding="utf-8")), start=1):
        pair = parse_record(record, str(path), i)
        (whole,), _, _ = tokenize_pairs([pair], tokenizer, 10**9)  # type: ignore[list-item]
        if whole.length <= SHARED["max_length"]:
            kept.append(record)
        if len(kept) == n:
            break
    return kept


def as_conversational(records: list[dict]) -> list[dict]:
    """TRL's conversational prompt/chosen/rejected, converted by TuneForge's own reader so
    both trainers see the same messages."""
    from tuneforge.data.records import parse_record
    from tuneforge.data.serialise import to_json

    return [to_json(parse_record(r, "data", i)) for i, r in enumerate(records, start=1)]


# ---------------------------------------------------------------- shared evaluation


def shared_dpo_loss(model_path: str, adapter: str, rows: list[dict]) -> float:
    """Mean sigmoid DPO loss (beta 0.1) of base + adapter against the base, same tokens."""
    import torch
    from peft import PeftModel

    from tuneforge.config import ModelConfig
    from tuneforge.data.records import parse_record
    from tuneforge.models import load_model, load_tokenizer
    from tuneforge.models.logprobs import sequence_logps
    from tuneforge.train.methods.dpo.loss import PairLogps, dpo_loss
    from tuneforge.train.pair_batches import PairPlan
    from tuneforge.train.paired import tokenize_pairs

    tokenizer = load_tokenizer(model_path)
    examples = [parse_record(r, "eval", i) for i, r in enumerate(rows, start=1)]
    pairs, _, _ = tokenize_pairs(examples, tokenizer, SHARED["max_length"])
    plan = PairPlan(pairs, 8, tokenizer.pad_token_id, seed=0, group_by_length=False)
    model = PeftModel.from_pretrained(
        load_model(ModelConfig(name_or_path=model_path, dtype="float32")), adapter
    )
    model.eval()
    total = 0.0
    with torch.no_grad():
        for batch in plan.in_order():
            sums, counts = sequence_logps(model, batch.sequences, True)
            with model.disable_adapter():
                ref, _ = sequence_logps(model, batch.sequences, True)
            policy = PairLogps(*sums.chunk(2), *counts.chunk(2))
            reference = PairLogps(*ref.chunk(2), *counts.chunk(2))
            total += float(dpo_loss(policy, reference, SHARED["beta"])[0].sum())
    return total / len(pairs)


# ---------------------------------------------------------------- contenders (in a worker)


def run_ours(args, work: Path) -> dict:
    import yaml

    rows = as_conversational(first_pairs(args.data, args.pairs))
    train_file, run_dir, config = work / "pairs.jsonl", work / "run", work / "config.yaml"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config.write_text(yaml.safe_dump({
        "model": {"name_or_path": args.model, "dtype": "float32"},
        "adapter": {"type": "lora", "r": SHARED["r"], "alpha": SHARED["alpha"],
                    "dropout": SHARED["dropout"], "target_modules": "all-linear"},
        "data": {"train": str(train_file), "max_length": SHARED["max_length"], "packing": True},
        "method": {"name": "dpo", "beta": SHARED["beta"], "loss": "sigmoid"},
        "train": {"epochs": 1, "batch_size": SHARED["batch"], "lr": SHARED["lr"],
                  "scheduler": "linear", "warmup_ratio": 0.0, "weight_decay": 0.0,
                  "seed": SHARED["seed"], "log_every": 1,
                  "mixed_precision": OURS_MIXED_PRECISION[args.precision]},
        "output": {"dir": str(run_dir), "overwrite": True},
    }, sort_keys=False))  # fmt: skip
    cli = Path(sys.executable).with_name("tuneforge")
    subprocess.run([str(cli), "train", str(config), *args.ours_set], check=True, stdout=sys.stderr)
    rss = peak_rss_mb(resource.RUSAGE_CHILDREN)
    summary = json.loads((run_dir / "summary.json").read_text())
    seconds = summary["train_seconds"] + summary["data"]["reference_seconds"]
    pairs = summary["data"]["pairs"]
    return {
        "pairs_per_second": pairs / seconds,
        "peak_rss_mb": rss,
        "final_loss": shared_dpo_loss(args.model_path, summary["output"], rows),
        "pairs": pairs,
        "seconds": round(seconds, 1),
        "reference_seconds": summary["data"]["reference_seconds"],
        "steps": summary["steps"],
    }


def run_trl(args, work: Path, precompute: bool) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import DPOConfig, DPOTrainer

    rows = as_conversational(first_pairs(args.data, args.pairs))
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows])
    config = DPOConfig(
        output_dir=str(work / "trl"), per_device_train_batch_size=SHARED["batch"],
        num_train_epochs=1, learning_rate=SHARED["lr"], lr_scheduler_type="linear",
        warmup_steps=0, weight_decay=0.0, seed=SHARED["seed"],
        bf16=args.precision == "bf16", fp16=False, use_cpu=True, max_length=SHARED["max_length"],
        beta=SHARED["beta"], logging_steps=1, save_strategy="no", eval_strategy="no",
        report_to="none", precompute_ref_log_probs=precompute,
    )  # fmt: skip
    set_seed(SHARED["seed"])
    lora = LoraConfig(
        task_type="CAUSAL_LM", r=SHARED["r"], lora_alpha=SHARED["alpha"],
        lora_dropout=SHARED["dropout"], target_modules="all-linear",
    )  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(args.model_path, dtype="float32")
    trainer = DPOTrainer(
        model=model, args=config, train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(args.model_path), peft_config=lora,
    )  # fmt: skip
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    rss = peak_rss_mb()
    adapter = work / "trl-adapter"
    trainer.model.save_pretrained(adapter)
    return {
        "pairs_per_second": len(rows) / seconds,
        "peak_rss_mb": rss,
        "final_loss": shared_dpo_loss(args.model_path, str(adapter), rows),
        "pairs": len(rows),
        "seconds": round(seconds, 1),
        "steps": trainer.state.global_step,
    }


def worker(args) -> None:
    work = Path(args.workdir) / args.worker
    work.mkdir(parents=True, exist_ok=True)
    if args.worker == "ours":
        result = run_ours(args, work)
    else:
        result = run_trl(args, work, precompute=args.worker == "trl_precompute")
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------- the parent


def spawn(name: str, args, workdir: Path) -> dict:
    result, log = workdir / f"{name}.json", workdir / f"{name}.log"
    command = [sys.executable, __file__, "--worker", name, "--workdir", str(workdir),
               "--result", str(result), "--pairs", str(args.pairs), "--data", str(args.data),
               "--model", args.model, "--model-path", args.model_path,
               "--precision", args.precision,
               *[f"--ours-set={item}" for item in args.ours_set]]  # fmt: skip
    return run_contender(name, command, result, log)


def check_targets(results: dict) -> list[dict]:
    trl = [
        results[k]
        for k in ("trl_default", "trl_precompute")
        if "error" not in results.get(k, {"error": 1})
    ]
    ours = results.get("ours")
    if not ours or "error" in ours or not trl:
        return []
    best = {
        "trl_default": results.get("trl_default", {}),
        "best_trl": max(trl, key=lambda r: r["pairs_per_second"]),
        "best_trl_rss": min(trl, key=lambda r: r["peak_rss_mb"]),
    }
    checks = []
    for metric, against, op, bound in TARGETS:
        if metric not in best[against]:
            continue
        ratio = ours[metric] / best[against][metric]
        passed = ratio >= bound if op == ">=" else ratio <= bound
        checks.append({"metric": metric, "against": against, "ratio": round(ratio, 3),
                       "target": f"{op} {bound}", "passed": passed})  # fmt: skip
    return checks


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=64, help="first N pairs (default 64)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(CONTENDERS)}")
    parser.add_argument("--data", type=Path, default=DATA, help="preference file (any format)")
    parser.add_argument("--workdir", help="keep runs and logs here (default: a temp dir)")
    add_precision_arg(parser)
    hidden = argparse.SUPPRESS
    parser.add_argument("--model", default="smollm2-135m-instruct", help=hidden)
    parser.add_argument("--model-path", help=hidden)
    parser.add_argument("--ours-set", action="append", default=[], help="extra overrides for ours")
    for flag in ("--worker", "--result"):
        parser.add_argument(flag, help=hidden)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if not args.data.is_file():
        print(f"{args.data}: not found (the benchmark reads ../shared/data)", file=sys.stderr)
        return 2
    from tuneforge.models.registry import resolve_model_path

    args.model_path = resolve_model_path(args.model)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tuneforge-dpo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    selected = workdir / "pairs.json"
    selected.write_text(json.dumps(fitting_pairs(args.data, args.pairs, args.model_path)))
    args.data = selected
    names = args.only.split(",") if args.only else list(CONTENDERS)
    results = {name: spawn(name, args, workdir) for name in names}
    checks = check_targets(results)
    print(f"DPO LoRA on CPU, {args.precision}:", file=sys.stderr)
    for name, row in results.items():
        shown = {k: row[k] for k in ("pairs_per_second", "peak_rss_mb", "final_loss") if k in row}
        print(f"  {name}: {shown or row}", file=sys.stderr)
    for check in checks:
        status = "PASS" if check["passed"] else "FAIL"
        print(f"{status} {check['metric']} ours/{check['against']} = {check['ratio']} "
              f"(target {check['target']}, {args.precision})", file=sys.stderr)  # fmt: skip
    print(json.dumps({"precision": args.precision, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
