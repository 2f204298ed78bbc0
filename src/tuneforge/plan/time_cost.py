"""Time and cost of a run: tokens per epoch from the data's real lengths, time from a
throughput measured on this machine (a short dry run) or estimated for a stated device,
cost at a stated price per hour.

A device profile estimates throughput from the training FLOPs per token (Kaplan et al.
2020: about 6N for a full fine-tune of N parameters, forward 2N plus backward 4N) at a
stated share of the device's dense bf16 peak (MFU). An adapter run skips the frozen
weights' gradients, two thirds of the backward's matmul work minus what the adapter adds:
about 4N per token (forward 2N, backward through the activations 2N). Quantised (QLoRA)
weights are dequantised per matmul, which costs time the FLOP count does not show: a
stated 1.3x slowdown. These are planning numbers, good to a factor of about 1.5; a
measured dry run (`--measure`) replaces them on the machine that will train.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

MFU = 0.4
"""Share of peak a well-fed fine-tuning run reaches on a GPU (measured runs report 35-50%)."""
QLORA_SLOWDOWN = 1.3


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    bf16_tflops: float
    """Dense bf16 tensor-core peak, from the vendor's datasheet."""
    memory_gb: float
    price_per_hour: float
    """A stated on-demand cloud price (US$), overridable with --price-per-hour."""


PROFILES = {
    p.name: p
    for p in (
        DeviceProfile("a100", 312.0, 80, 1.8),  # A100 SXM 80GB
        DeviceProfile("h100", 989.0, 80, 3.0),  # H100 SXM, dense
        DeviceProfile("rtx4090", 165.2, 24, 0.5),  # fp16/bf16 with fp32 accumulate
        DeviceProfile("rtx3060", 51.2, 12, 0.2),
    )
}


def flops_per_token(parameters: int, adapter: str) -> float:
    """Training FLOPs per token: 6N for full fine-tuning, 4N with an adapter."""
    return (6.0 if adapter == "full" else 4.0) * parameters


def profile_throughput(profile: DeviceProfile, parameters: int, adapter: str) -> float:
    """Tokens per second on `profile` at MFU, QLoRA's dequantisation counted."""
    rate = profile.bf16_tflops * 1e12 * MFU / flops_per_token(parameters, adapter)
    return rate / QLORA_SLOWDOWN if adapter == "qlora" else rate


@dataclass(frozen=True)
class TimeCost:
    tokens_per_epoch: int
    epochs: int
    tokens_per_second: float | None
    source: str
    """"measured ..." or "profile <name> ..." or why there is no estimate."""
    hours: float | None
    price_per_hour: float | None
    cost: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def time_and_cost(
    tokens_per_epoch: int, epochs: int, tokens_per_second: float | None, source: str,
    price_per_hour: float | None,
) -> TimeCost:  # fmt: skip
    if not tokens_per_second:
        return TimeCost(tokens_per_epoch, epochs, None, source, None, price_per_hour, None)
    hours = tokens_per_epoch * epochs / tokens_per_second / 3600
    cost = hours * price_per_hour if price_per_hour is not None else None
    return TimeCost(
        tokens_per_epoch, epochs, tokens_per_second, source, hours, price_per_hour, cost
    )
