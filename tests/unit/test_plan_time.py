"""Time and cost of a planned run, against numbers worked by hand."""

from __future__ import annotations

import pytest

from tuneforge.plan.time_cost import PROFILES, flops_per_token, profile_throughput, time_and_cost


def test_a_full_fine_tune_on_an_a100():
    """1e9 parameters, full: 6e9 FLOPs per token; an A100's 312 TFLOPS at 40% MFU is
    1.248e14 FLOP/s: 20,800 tokens/s. Two epochs of 1e8 tokens: 2e8 / 20,800 / 3,600 =
    2.671 h, at $1.80/h: $4.81."""
    rate = profile_throughput(PROFILES["a100"], 10**9, "full")
    assert rate == pytest.approx(20_800)
    plan = time_and_cost(10**8, 2, rate, "profile a100", 1.8)
    assert plan.hours == pytest.approx(2e8 / 20_800 / 3600)
    assert plan.cost == pytest.approx(plan.hours * 1.8)


def test_adapters_skip_the_frozen_weights_gradients_and_qlora_pays_for_dequantising():
    assert flops_per_token(10**9, "lora") == 4e9
    lora = profile_throughput(PROFILES["h100"], 10**9, "lora")
    qlora = profile_throughput(PROFILES["h100"], 10**9, "qlora")
    assert lora == pytest.approx(989e12 * 0.4 / 4e9) and qlora == pytest.approx(lora / 1.3)


def test_no_throughput_no_time():
    plan = time_and_cost(1000, 1, None, "not measured: run with --measure", 2.0)
    assert plan.hours is None and plan.cost is None and "--measure" in plan.source
