"""What `auto` precision means: bf16 autocast where the hardware computes bf16 natively
(confirmed by a probe on CPUs), float32 where bf16 would be emulated; and the run says
which it chose."""

from __future__ import annotations

import pytest
import torch

from tuneforge.config import TrainConfig
from tuneforge.models import precision
from tuneforge.train.setup import make_accelerator, make_autocast, mixed_precision


@pytest.fixture
def cpu(monkeypatch):
    """A CPU-only machine whose bf16 support and probe speed-up a test sets."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    precision.auto_precision.cache_clear()
    yield monkeypatch
    precision.auto_precision.cache_clear()


def fake_cpu(cpu, feature: str | None, speedup: float = 1.8) -> None:
    cpu.setattr(precision, "cpu_bf16_feature", lambda: feature)
    cpu.setattr(precision, "_probe_speedup", lambda: speedup)


def test_native_bf16_cpu_trains_in_bf16_autocast(cpu):
    fake_cpu(cpu, "avx512_bf16", speedup=1.8)
    choice = precision.auto_precision()
    assert choice.bf16 and "avx512_bf16" in choice.reason and "1.8x" in choice.reason
    assert mixed_precision(TrainConfig()) == (
        "bf16", "bf16 autocast (auto: CPU computes bf16 natively (avx512_bf16, 1.8x float32))"
    )  # fmt: skip


def test_emulated_bf16_stays_float32(cpu):
    fake_cpu(cpu, None)
    assert mixed_precision(TrainConfig())[0] == "no"
    assert "no bf16 instructions" in mixed_precision(TrainConfig())[1]


def test_a_probe_that_shows_no_gain_keeps_float32(cpu):
    fake_cpu(cpu, "amx_bf16", speedup=0.9)
    choice = precision.auto_precision()
    assert not choice.bf16 and "only 0.90x" in choice.reason


def test_an_explicit_setting_is_obeyed_and_said(cpu):
    fake_cpu(cpu, "avx512_bf16")
    assert mixed_precision(TrainConfig(mixed_precision="no")) == (
        "no", "float32 (train.mixed_precision)"
    )  # fmt: skip
    assert mixed_precision(TrainConfig(mixed_precision="bf16"))[0] == "bf16"


def test_feature_detection_reads_torchs_probes(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert precision.cpu_bf16_feature() == "avx512_bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(precision, "_arm_features", lambda: {"fp", "asimd", "bf16"})
    assert precision.cpu_bf16_feature() == "arm bf16"
    monkeypatch.setattr(precision, "_arm_features", lambda: {"fp", "asimd"})
    assert precision.cpu_bf16_feature() is None


def test_the_probe_measures_a_ratio_and_leaves_the_thread_count_alone():
    threads = torch.get_num_threads()
    assert precision._probe_speedup(size=64, repeats=3) > 0
    assert torch.get_num_threads() == threads


def fake_matmul(fp32_s: float, bf16_s: float, slow_calls: set[int]):
    """A timer whose calls numbered in `slow_calls` are 20x slower (another process ran);
    records the precision of every call."""
    calls: list[bool] = []

    def matmul(bf16: bool) -> float:
        calls.append(bf16)
        took = bf16_s if bf16 else fp32_s
        return took * 20 if len(calls) - 1 in slow_calls else took

    return matmul, calls


def test_load_on_some_repeats_does_not_change_the_ratio():
    """Interleaved pairs, best of each: load that hits either precision on some calls
    (here the warm-up, then fp32 on calls 6 and 9, bf16 on 7, 10 and 13) leaves the
    uninterrupted runs, 2 ms / 0.5 ms = 4x."""
    matmul, calls = fake_matmul(2e-3, 0.5e-3, slow_calls={0, 1, 6, 7, 9, 10, 13})
    assert precision.best_ratio(matmul, repeats=15, budget_s=1.0) == pytest.approx(4.0)
    assert calls == [False, True] * (precision.PROBE_WARMUP + 15)


def test_an_emulated_bf16_is_rejected_after_three_pairs():
    """bf16 at 0.015x float32 (100 ms a call) exceeds the budget after three pairs."""
    matmul, calls = fake_matmul(1.5e-3, 0.1, slow_calls=set())
    ratio = precision.best_ratio(matmul, repeats=15, budget_s=0.2)
    assert ratio == pytest.approx(0.015) and ratio < precision.PROBE_SPEEDUP
    assert len(calls) == 2 * (precision.PROBE_WARMUP + 3)


def test_bf16_runs_autocast_matmuls_on_float32_weights():
    cfg = TrainConfig(mixed_precision="bf16")
    layer = torch.nn.Linear(8, 8)
    with make_autocast(cfg, make_accelerator(cfg))():
        out = layer(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32


def test_runs_of_different_precisions_share_a_process():
    """accelerate allows one precision per process; ours is per run."""
    for setting in ("bf16", "no", "bf16"):
        cfg = TrainConfig(mixed_precision=setting)
        with make_autocast(cfg, make_accelerator(cfg))():
            out = torch.nn.Linear(4, 4)(torch.randn(1, 4))
        assert out.dtype == (torch.bfloat16 if setting == "bf16" else torch.float32)
