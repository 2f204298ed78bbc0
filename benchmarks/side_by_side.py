"""What the side-by-side benchmarks share: every contender runs in a fresh interpreter
(so peak RSS is its own), offline, with its chatter in a log shown only on failure."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

WORKER_ENV = {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
PRECISIONS = ("fp32", "bf16")
"""--precision: what every contender computes in. Weights stay float32 either way; bf16 is
autocast (ours: train.mixed_precision=bf16, TRL: bf16=True)."""
OURS_MIXED_PRECISION = {"fp32": "no", "bf16": "bf16"}
"""Always explicit for ours: the meaning of train.mixed_precision=auto depends on the machine."""


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    """This process's peak RSS (or its children's). For itself, the kernel's high-water
    mark of its own memory map (VmHWM): Linux carries a parent's ru_maxrss into a child
    across exec (a child of a 1.5 GB parent reports 1.5 GB), which getrusage would count."""
    if who == resource.RUSAGE_SELF:
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024  # kB
        except OSError:
            pass
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def add_precision_arg(parser) -> None:
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="fp32",
        help="fp32, or bf16 autocast for every contender (weights stay float32; default fp32)",
    )  # fmt: skip


def run_contender(name: str, command: list[str], result: Path, log: Path) -> dict:
    """Run one contender's worker; its result JSON, or {"error": ...} when it failed."""
    print(f"running {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.run(command, stdout=out, stderr=out, env=os.environ | WORKER_ENV)
    if code.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        print(f"{name} failed (exit {code.returncode}); end of its log:\n{tail}", file=sys.stderr)
        return {"error": f"worker exited with {code.returncode}"}
    print(f"  done in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return json.loads(result.read_text())
