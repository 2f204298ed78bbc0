"""Checkpoints that are either complete or absent.

A checkpoint is written into `step-N.partial/` and renamed to `step-N/` only after every
file is on disk, so a kill mid-write leaves a `.partial` folder that resume ignores,
never a `step-N/` that looks valid but is not. `state.json` is written last inside it.

    checkpoints/step-N/
      trainable.safetensors   trainable parameters by name (what resume loads)
      adapter/                the same weights in PEFT format (usable as an adapter)
      optimizer.pt            optimizer + scheduler state, RNG states, and the batch plan's
                              own state when it has one (online methods: the rollout in use)
      state.json              loop position, best validation score, ...
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tuneforge.errors import TuneForgeError
from tuneforge.run_dir import COMPLETE_MARKER, STEP_DIR


def save_checkpoint(
    directory: Path,
    step: int,
    model,
    optimizer,
    scheduler,
    state: dict[str, Any],
    plan_state: dict[str, Any] | None = None,
) -> Path:
    final, partial = directory / f"step-{step}", directory / f"step-{step}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _write(partial, model, optimizer, scheduler, {**state, "step": step}, plan_state)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)  # no half-written checkpoint stays
        raise write_error(exc, partial) from exc
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    return final


def write_error(exc: Exception, path: Path) -> Exception:
    """A failed write as the OSError it is, so the CLI names the path and the cause:
    safetensors reports a full disk as its own error type, torch as a RuntimeError."""
    if isinstance(exc, OSError) or not isinstance(exc, RuntimeError | ValueError):
        return exc
    full = "StorageFull" in str(exc) or "No space left" in str(exc)
    code = errno.ENOSPC if full else errno.EIO
    return OSError(code, os.strerror(code), str(path))


def _write(partial: Path, model, optimizer, scheduler, state, plan_state) -> None:
    partial.mkdir(parents=True)
    save_file(trainable_state(model), partial / "trainable.safetensors")
    if hasattr(model, "peft_config"):
        model.save_pretrained(partial / "adapter")
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "plan": plan_state,
        },
        partial / "optimizer.pt",
    )
    (partial / COMPLETE_MARKER).write_text(json.dumps(state, indent=2))


def load_checkpoint(path: Path, model, optimizer, scheduler, plan=None) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler, RNG and the plan's state (when it keeps
    one) in place; returns the loop state."""
    saved = load_file(path / "trainable.safetensors")
    params = dict(model.named_parameters())
    mismatch = set(saved) ^ {name for name, p in params.items() if p.requires_grad}
    if mismatch:
        raise TuneForgeError(
            f"{path}: checkpoint does not match this model/adapter "
            f"(first differing parameter: {sorted(mismatch)[0]}); "
            "resume with the config the run was started with"
        )
    with torch.no_grad():
        for name, tensor in saved.items():
            params[name].copy_(tensor)
    extra = torch.load(path / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["rng_cpu"])
    if extra["rng_cuda"]:
        torch.cuda.set_rng_state_all(extra["rng_cuda"])
    if extra.get("plan") is not None and hasattr(plan, "load_state_dict"):
        plan.load_state_dict(extra["plan"])
    return json.loads((path / COMPLETE_MARKER).read_text())


def prune_checkpoints(directory: Path, keep: int, protect: int | None) -> None:
    """Delete all but the `keep` newest checkpoints, never the one at step `protect`."""
    # Every step-N/ counts, complete or not; .partial folders are left to the next save.
    steps = sorted(
        int(m.group(1)) for p in directory.glob("step-*") if (m := STEP_DIR.match(p.name))
    )
    for step in steps[:-keep]:
        if step != protect:
            shutil.rmtree(directory / f"step-{step}", ignore_errors=True)


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {
        name: p.detach().to("cpu").contiguous()
        for name, p in model.named_parameters()
        if p.requires_grad
    }
