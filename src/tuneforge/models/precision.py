"""Which precision `auto` means on this machine: bf16 where the hardware computes it
natively, float32 where bf16 would be emulated.

GPUs: bf16 when CUDA reports support (Ampere and newer). CPUs: bf16 autocast when the
processor has bf16 instructions (x86 AVX512_BF16 or AMX, Arm's BF16 extension) and a short
matmul probe (one thread, interleaved repeats: _probe_speedup) confirms it beats float32.
On such a CPU (AMD EPYC, AVX512_BF16) SFT LoRA trained 1.72x faster in bf16 autocast with
the same final loss; on an AVX2-only CPU PyTorch emulates bf16 and it is several times
slower than float32, so there `auto` keeps float32. Weights stay float32 on CPU either
way: autocast computes the matmuls in bf16 while the optimizer updates float32 master
weights. The one exception is an adapter run in bf16, whose frozen Linear weights are
stored in the bf16 autocast would cast them to anyway
(train/setup.store_frozen_linears_in_bf16).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch

PROBE_SPEEDUP = 1.1
"""bf16 must beat float32 by this factor in the probe: a tie is not worth the rounding."""

PROBE_WARMUP = 3
"""Untimed calls per precision first: oneDNN builds its kernels on first use, and the
first three bf16 calls on this AMX CPU ran up to 4x slower than the rest."""


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str
    """Said at the start of a run, so nobody has to guess what `auto` chose."""


@cache
def auto_precision() -> Precision:
    """What `mixed_precision: auto` picks here (measured once per process)."""
    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return Precision(True, "GPU supports bf16")
        return Precision(False, "GPU has no bf16")
    feature = cpu_bf16_feature()
    if feature is None:
        return Precision(False, "this CPU has no bf16 instructions, so bf16 would be emulated")
    speedup = _probe_speedup()
    if speedup < PROBE_SPEEDUP:
        return Precision(False, f"CPU has {feature} but bf16 was only {speedup:.2f}x float32")
    return Precision(True, f"CPU computes bf16 natively ({feature}, {speedup:.1f}x float32)")


def cpu_bf16_feature() -> str | None:
    """The CPU's bf16 instruction set as torch (or, on Arm, the kernel) reports it."""
    probes = (("amx_bf16", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported"))
    for name, probe in probes:
        # torch.cpu's capability probes are the ones its own kernels dispatch on.
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            return name
    return "arm bf16" if "bf16" in _arm_features() else None


def _arm_features() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("Features"):
            return set(line.partition(":")[2].split())
    return set()


def _probe_speedup(size: int = 512, repeats: int = 15, budget_s: float = 0.2) -> float:
    """float32 time / bf16-autocast time of a square matmul on one thread (~40 ms on AMX).

    One thread, because a multi-threaded matmul waits for its slowest thread: with another
    process busy on one core of a 2-core box, 2-thread timings of a 0.5 ms matmul were that
    process's time slices (12-20 ms) and the ratio ranged from 0.6x to 40x between fresh
    processes. One thread runs the same kernels, so the ratio is still the hardware's:
    3.3-3.8x on an AMX CPU, idle or with both cores busy.
    """
    a, b = torch.randn(size, size), torch.randn(size, size)

    def matmul(bf16: bool) -> float:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            (a @ b).sum().item()
        return time.perf_counter() - started

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return best_ratio(matmul, repeats, budget_s)
    finally:
        torch.set_num_threads(threads)


def best_ratio(matmul: Callable[[bool], float], repeats: int, budget_s: float) -> float:
    """min float32 time / min bf16 time over interleaved pairs of `matmul(bf16)` timings.

    Pairs are interleaved so that load from other processes falls on both precisions
    alike, and the minimum is the run nobody interrupted. Stops after `budget_s` of
    measured time (at least three pairs), so an emulated bf16 costs a few calls, not 15.
    """
    for _ in range(PROBE_WARMUP):
        matmul(False)
        matmul(True)
    fp32: list[float] = []
    bf16: list[float] = []
    while len(fp32) < repeats:
        fp32.append(matmul(False))
        bf16.append(matmul(True))
        if len(fp32) >= 3 and sum(fp32) + sum(bf16) > budget_s:
            break
    return min(fp32) / max(min(bf16), 1e-9)
