"""Will it fit? `tuneforge train` estimates the run's peak memory (plan/memory.py) from
the config and the data's real lengths before any weight is loaded, and stops with the
numbers and the settings that would fit when the estimate exceeds what the device has
free; `--no-preflight` skips the check.

What "free" means: on a GPU, torch's `mem_get_info` free bytes; on a CPU, the kernel's
MemAvailable (what can be allocated without swapping). A run is let through up to
HEADROOM of that, since the estimate is good to about 15% (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from tuneforge.config import RunConfig
from tuneforge.errors import ConfigError
from tuneforge.log import info
from tuneforge.plan.report import gib

HEADROOM = 0.9


def available_bytes(device: str) -> int | None:
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def preflight(cfg: RunConfig, log=info) -> None:
    """Raise a ConfigError when the run would not fit; silent when it fits, and when the
    estimate cannot be made (the recipe then names the bad model or data itself)."""
    import torch

    from tuneforge.plan.architecture import architecture_of
    from tuneforge.plan.lengths import measure_lengths
    from tuneforge.plan.memory import estimate

    if cfg.data.train is None:
        return  # the recipe names what is missing
    device = "cuda" if torch.cuda.is_available() else "cpu"
    free = available_bytes(device)
    if free is None:
        return
    try:
        architecture = architecture_of(cfg.model.name_or_path)
        measured = measure_lengths(cfg)
        lengths, trained = measured.lengths, measured.trained
        peak = estimate(architecture, cfg, lengths, device, trained=trained)
    except Exception:  # noqa: BLE001
        # A model or data problem: training reports it, with its own file, line and field.
        return
    if peak.peak_bytes <= HEADROOM * free:
        return
    fits = []
    for label, changed in alternatives(cfg):
        cut = [min(n, changed.data.max_length) for n in lengths]
        needed = estimate(architecture, changed, cut, device, trained=trained).peak_bytes
        if needed <= HEADROOM * free:
            fits.append(f"{label} (about {gib(needed)})")
    largest = sorted(peak.parts.items(), key=lambda item: -item[1])[:3]
    parts = ", ".join(f"{name} {gib(size)}" for name, size in largest)
    advice = "; ".join(fits) if fits else "none of the usual changes is enough: use a smaller model"
    raise ConfigError(
        f"preflight: this run needs about {gib(peak.peak_bytes)} ({parts}) but {device} has "
        f"{gib(free)} free, so it would run out of memory. Settings that fit: {advice}. "
        "(--no-preflight trains anyway; `tuneforge plan` shows the whole estimate.)"
    )


def alternatives(cfg: RunConfig) -> Iterator[tuple[str, RunConfig]]:
    """The usual ways to need less memory, one at a time, each as the config it makes."""
    changes: list[tuple[str, Callable[[RunConfig], RunConfig]]] = []
    if not cfg.model.gradient_checkpointing:
        changes.append(
            ("model.gradient_checkpointing=true", _with(model={"gradient_checkpointing": True}))
        )
    batch = cfg.train.batch_size
    if isinstance(batch, int) and batch > 1:
        half = batch // 2
        accum = cfg.train.grad_accum * 2
        changes.append(
            (f"train.batch_size={half} train.grad_accum={accum} (the same effective batch)",
             _with(train={"batch_size": half, "grad_accum": accum}))
        )  # fmt: skip
    if cfg.adapter.type in ("lora", "dora"):
        changes.append(
            (
                "adapter.type=qlora (4-bit base weights, needs a GPU)",
                _with(adapter={"type": "qlora"}),
            )
        )
    if cfg.data.max_length > 256:
        length = cfg.data.max_length // 2
        changes.append((f"data.max_length={length}", _with(data={"max_length": length})))
    for label, change in changes:
        yield label, change(cfg)


def _with(**sections: dict) -> Callable[[RunConfig], RunConfig]:
    def apply(cfg: RunConfig) -> RunConfig:
        updates = {
            name: getattr(cfg, name).model_copy(update=values) for name, values in sections.items()
        }
        return cfg.model_copy(update=updates)

    return apply
