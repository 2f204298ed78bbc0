"""`tuneforge plan`'s memory estimate against the measured peak RSS of the run it estimates.

    .venv/bin/python benchmarks/plan_memory.py [--cases full,lora,...] [--lengths 256,1024]
        [--steps 2] [--trace DIR]

For every case x max_length: the data file cut to exactly `--steps` optimizer steps of
rows that reach max_length (below), written to a scratch folder (never the repo);
`plan/memory.estimate` for that config and data, with the lengths `plan/lengths.py`
measures and `cpu_bf16` as `models.precision.auto_precision()` finds this CPU (what
`tuneforge plan` does on it); then `python -m tuneforge.cli.main train CONFIG
--no-preflight` in a child process. Its peak RSS is the `ru_maxrss` that `os.wait4`
returns for that child alone (the kernel's high-water mark of its resident set, sampled by
nothing); psutil also polls the child's RSS every 20 ms, for `--trace`.

Cases (SmolLM2-135M-Instruct, the embedded default model; `dtype` and `mixed_precision`
`auto`, so float32 weights and, on a bf16-capable CPU, bf16 autocast; the CPU's 512-token
forward passes, `train.max_tokens_per_forward: auto`; no evaluation, no checkpoints):

    full, lora, qlora        SFT, batch 2 (QLoRA 1), data.packing (rows filled to max_length from
                             ../shared/data/sft/llamafactory_alpaca_gpt4_en_demo.json,
                             whose longest example has 751 tokens)
    dpo_full_pre, _live      DPO with full fine-tuning, batch 1 pair, reference
                             log-probs precomputed (method.precompute_reference: true, the
                             default) or computed every step by a frozen copy (false)
    dpo_lora_pre, _live      the same with LoRA (the reference: the adapter switched off)

DPO pairs are the first of ../shared/data/preference/llamafactory_dpo_en_demo.json whose
longer sequence reaches max_length (truncated to it). The data are cut to what the steps
use, so the run meets the estimate's largest pass: the estimate is of the whole data, the
run's peak of the steps it makes. MB here are 2^20 bytes.

The LAST line of output is one JSON object: {CASE@LENGTH: {measured_mb, estimate_mb,
ratio, phase, ...}}, ratio = measured / estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from side_by_side import WORKER_ENV

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
SFT_DATA = DATA_DIR / "sft" / "llamafactory_alpaca_gpt4_en_demo.json"
DPO_DATA = DATA_DIR / "preference" / "llamafactory_dpo_en_demo.json"
LORA = {"type": "lora", "r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}
SFT_BATCH, DPO_BATCH = 2, 1
CASES: dict[str, dict] = {
    "full": {"adapter": {"type": "full"}, "method": {"name": "sft"}, "train": {"lr": 1e-5}},
    "lora": {"adapter": LORA, "method": {"name": "sft"}},
    "qlora": {
        "adapter": LORA | {"type": "qlora"},
        "method": {"name": "sft"},
        "batch_size": 1,  # bitsandbytes' 4-bit matmuls on CPU: ~10 tokens/s here
    },
    "dpo_full_pre": {
        "adapter": {"type": "full"},
        "method": {"name": "dpo", "precompute_reference": True},
        "train": {"lr": 1e-6},
    },
    "dpo_full_live": {
        "adapter": {"type": "full"},
        "method": {"name": "dpo", "precompute_reference": False},
        "train": {"lr": 1e-6},
    },
    "dpo_lora_pre": {"adapter": LORA, "method": {"name": "dpo", "precompute_reference": True}},
    "dpo_lora_live": {"adapter": LORA, "method": {"name": "dpo", "precompute_reference": False}},
}
POLL_S = 0.02


def base_config(case: str, length: int, data: Path, run_dir: Path, steps: int) -> dict:
    spec = CASES[case]
    dpo = spec["method"]["name"] == "dpo"
    batch = spec.get("batch_size", DPO_BATCH if dpo else SFT_BATCH)
    return {
        "model": {"name_or_path": "smollm2-135m-instruct", "dtype": "auto"},
        "adapter": spec["adapter"],
        "data": {"train": str(data), "max_length": length, "packing": not dpo},
        "method": spec["method"],
        "train": {
            "epochs": 1, "max_steps": steps, "batch_size": batch,
            "mixed_precision": "auto", "max_tokens_per_forward": "auto", "log_every": 1,
            "eval_every": None, "save_every": None, **spec.get("train", {}),
        },
        "output": {"dir": str(run_dir), "overwrite": True},
    }  # fmt: skip


def record_lengths(cfg, kind: str) -> list[tuple[int, int] | None]:
    """(tokens, trained tokens) of every record of cfg's data file, None when dropped."""
    from tuneforge.data import read_examples
    from tuneforge.models import load_tokenizer
    from tuneforge.plan.lengths import example_lengths

    tokenizer = load_tokenizer(cfg.model.name_or_path, lambda message: None)
    examples = list(read_examples(cfg.data.train, kind=kind, format=cfg.data.format))
    return example_lengths(examples, tokenizer, cfg)


def cut_data(case: str, length: int, steps: int, work: Path) -> Path:
    """The records `steps` optimizer steps use, written to work/: SFT, the longest prefix
    of the file that packs into steps x batch rows; DPO, the first
    steps x batch pairs whose longer sequence reaches `length`."""
    from tuneforge.config import RunConfig
    from tuneforge.plan.passes import packed_rows

    dpo = CASES[case]["method"]["name"] == "dpo"
    source = DPO_DATA if dpo else SFT_DATA
    cfg = RunConfig.model_validate(base_config(case, length, source, work / "run", steps))
    records = json.loads(source.read_text(encoding="utf-8"))
    measured = record_lengths(cfg, "preference" if dpo else "sft")
    if dpo:
        keep = [i for i, m in enumerate(measured) if m is not None and m[0] >= length]
        chosen = [records[i] for i in keep[: steps * cfg.train.batch_size]]
    else:
        rows_wanted, sizes, chosen = steps * cfg.train.batch_size, [], []
        for record, m in zip(records, measured, strict=True):
            if m is None:
                continue
            if len(packed_rows([*sizes, m[0]], length)) > rows_wanted:
                break  # the rows are as full as the file's order lets them be
            sizes.append(m[0])
            chosen.append(record)
    path = work / f"{case}-{length}.json"
    path.write_text(json.dumps(chosen), encoding="utf-8")
    return path


def estimate_for(cfg) -> dict:
    from tuneforge.models.precision import auto_precision
    from tuneforge.plan.architecture import architecture_of
    from tuneforge.plan.lengths import measure_lengths
    from tuneforge.plan.memory import estimate

    lengths = measure_lengths(cfg)
    arch = architecture_of(cfg.model.name_or_path)
    bf16 = auto_precision().bf16
    result = estimate(arch, cfg, lengths.lengths, "cpu", trained=lengths.trained, cpu_bf16=bf16)
    return {
        "estimate_mb": result.peak_bytes / 2**20,
        "phase": result.phase,
        "parts_mb": {k: round(v / 2**20, 1) for k, v in result.parts.items() if v},
        "phases_mb": {k: round(v / 2**20, 1) for k, v in result.phases.items()},
        "forward_pass": result.forward_pass.__dict__ if result.forward_pass else None,
        "examples": len(lengths.lengths),
        "cpu_bf16": bf16,
    }


def run_training(config: Path, trace: Path | None) -> dict:
    """Run `tuneforge train` in a child; its own ru_maxrss from os.wait4, and a psutil
    poll of its RSS (the timeline goes to `trace` with the log, time-stamped)."""
    import psutil

    command = [sys.executable, "-m", "tuneforge.cli.main", "train", str(config), "--no-preflight"]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | WORKER_ENV,
    )  # fmt: skip
    samples: list[tuple[float, float]] = []
    lines: list[tuple[float, str]] = []
    done = threading.Event()

    def poll() -> None:
        proc = psutil.Process(child.pid)
        while not done.is_set():
            try:
                samples.append((time.perf_counter() - started, proc.memory_info().rss / 2**20))
            except psutil.Error:
                return
            time.sleep(POLL_S)

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            lines.append((time.perf_counter() - started, line.rstrip()))

    threads = [threading.Thread(target=poll, daemon=True), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    for thread in threads:
        thread.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if trace is not None:
        trace.write_text(
            json.dumps({"rss_mb": samples, "log": lines, "ru_maxrss_mb": usage.ru_maxrss / 1024})
        )
    if child.returncode != 0:
        tail = "\n".join(text for _, text in lines[-30:])
        return {"error": f"exit {child.returncode}", "log_tail": tail}
    polled = max((mb for _, mb in samples), default=0.0)
    return {
        "measured_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "polled_peak_mb": polled,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_case(case: str, length: int, steps: int, work: Path, trace: Path | None) -> dict:
    from tuneforge.config import RunConfig

    steps = CASES[case].get("steps", steps)
    data = cut_data(case, length, steps, work)
    raw = base_config(case, length, data, work / f"run-{case}-{length}", steps)
    config = work / f"{case}-{length}.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    row: dict = estimate_for(RunConfig.model_validate(raw))
    print(f"{case}@{length}: estimate {row['estimate_mb']:.0f} MB; training ...", file=sys.stderr)
    trace_file = trace / f"{case}-{length}.json" if trace else None
    row |= run_training(config, trace_file)
    if "measured_mb" in row:
        row["ratio"] = round(row["measured_mb"] / row["estimate_mb"], 3)
        print(f"  measured {row['measured_mb']:.0f} MB, ratio {row['ratio']}", file=sys.stderr)
    else:
        print(f"  failed: {row['error']}\n{row['log_tail']}", file=sys.stderr)
    return row


def print_table(results: dict[str, dict]) -> None:
    print("| case | max_length | measured MB | estimate MB | ratio | estimate's phase | pass |")
    print("|---|---|---|---|---|---|---|")
    for key, row in results.items():
        case, length = key.split("@")
        p = row.get("forward_pass") or {}
        shape = f"{p.get('rows')} x {p.get('width')}, {p.get('trained')} trained" if p else ""
        if "measured_mb" in row:
            measured, ratio = f"{row['measured_mb']:.0f}", f"{row['ratio']:.2f}"
        else:
            measured, ratio = row.get("error", "-"), "-"
        print(
            f"| {case} | {length} | {measured} | {row['estimate_mb']:.0f} | {ratio} "
            f"| {row['phase']} | {shape} |"
        )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES)
    )
    parser.add_argument(
        "--lengths", default="256,1024", help="max_length values (default 256,1024)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=2,
        help="optimizer steps per run (default 2: the first whose backward pass has "
        "gradients and AdamW states alive)",
    )
    parser.add_argument("--trace", type=Path, help="write each run's RSS timeline and log here")
    args = parser.parse_args(argv)
    args.cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown cases {unknown}: expected {', '.join(CASES)}")
    args.lengths = [int(n) for n in args.lengths.split(",")]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    for path in (SFT_DATA, DPO_DATA):
        if not path.is_file():
            print(f"missing {path}: the benchmark reads ../shared/data", file=sys.stderr)
            return 1
    if args.trace:
        args.trace.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="plan-memory-") as tmp:
        for case in args.cases:
            for length in args.lengths:
                results[f"{case}@{length}"] = run_case(
                    case, length, args.steps, Path(tmp), args.trace
                )
    print_table(results)
    summary = {
        key: {k: row.get(k) for k in ("measured_mb", "estimate_mb", "ratio", "phase", "error")}
        | {"parts_mb": row.get("parts_mb"), "phases_mb": row.get("phases_mb")}
        for key, row in results.items()
    }
    for row in summary.values():
        for k in ("measured_mb", "estimate_mb"):
            if row.get(k) is not None:
                row[k] = round(row[k], 1)
    print(json.dumps(summary))
    return 1 if any("error" in row for row in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
