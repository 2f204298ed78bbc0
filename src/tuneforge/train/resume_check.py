"""Whether `train --resume` may continue a run with the config it is given now.

A resumed run must compute what the interrupted one would have computed: the same data,
model, adapter, method, optimizer, schedule, batches and seed. So the new resolved config
is compared key by key with the run's saved config.yaml; a change to anything that feeds
the computation is refused with every differing key listed, and only the settings in
SAFE (when to log, evaluate and save, where the run lives, memory knobs that leave the
maths alone) or a longer run (RAISE_ONLY) are accepted. Nothing here writes: the caller
records accepted changes once the start has succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuneforge.config import RunConfig, load_config
from tuneforge.errors import ConfigError
from tuneforge.run_dir import RunDir

SAFE = {
    # When things happen around the steps, never what a step computes. (An evaluation
    # only reads the model; GRPO/PPO validation decodes greedily and draws no random
    # numbers, so it leaves the RNG stream of training alone. A different cadence can
    # move the best checkpoint and when early stopping fires, which is what was asked.)
    "train.log_every": "how often a metrics row is written",
    "train.eval_every": "how often validation runs",
    "train.save_every": "how often a checkpoint is written",
    "train.keep_checkpoints": "how many checkpoints stay on disk",
    "train.early_stopping_patience": "how many evaluations without improvement end the run",
    # Memory knobs with the same gradient: micro-batches split into smaller forward
    # passes are normalised by the step's trained tokens (train/loop.py), and
    # recomputed activations replay the RNG state of their forward pass. Changing them
    # is how a run that ran out of memory is resumed on a smaller machine.
    "train.max_tokens_per_forward": "forward pass size (same gradient, less memory)",
    "model.gradient_checkpointing": "activation recomputation (same gradient, less memory)",
    # Where the run lives: resuming a folder that was moved or copied.
    "output.dir": "where the run directory is",
    "output.overwrite": "whether a finished run may be replaced (ignored by --resume)",
}
"""Settings that may differ from the saved config: key -> what it controls."""

SAFE_SECTIONS = {
    # The regression report runs after training, on the saved product: what it measures
    # never changes what a step computes.
    "eval": "the report run when training ends",
}
"""Sections whose every key may differ: section -> what it controls."""

RAISE_ONLY = {
    # A longer run: the steps already taken stay as they were; the learning-rate schedule
    # is stretched over the new total from the resume point on.
    "train.max_steps": "the number of optimizer steps",
    "train.epochs": "the number of passes over the data",
}
"""Settings that may grow on resume (a run extended), never shrink or be unset."""


@dataclass
class ResumeDiff:
    """The keys of the new config that differ from the saved one: (old, new) each."""

    accepted: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    refused: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    why_refused: dict[str, str] = field(default_factory=dict)
    """Refused keys that a rule other than "changes the computation" refused."""


def compare(saved: RunConfig, new: RunConfig) -> ResumeDiff:
    """Sort every differing key (dotted path) of two resolved configs into accepted or
    refused."""
    old_values = flatten(saved.model_dump(mode="json"))
    new_values = flatten(new.model_dump(mode="json"))
    diff = ResumeDiff()
    method_changed = old_values.get("method.name") != new_values.get("method.name")
    for key in sorted(old_values.keys() | new_values.keys(), key=_section_order):
        old, value = old_values.get(key, _ABSENT), new_values.get(key, _ABSENT)
        if old == value:
            continue
        if method_changed and key.startswith("method.") and key != "method.name":
            continue  # another method's settings: the name says it all
        if key in SAFE or key.split(".")[0] in SAFE_SECTIONS:
            diff.accepted[key] = (old, value)
        elif key in RAISE_ONLY:
            if _raised(old, value):
                diff.accepted[key] = (old, value)
            else:
                diff.refused[key] = (old, value)
                diff.why_refused[key] = "can only be raised when resuming"
        else:
            diff.refused[key] = (old, value)
    return diff


def check_resume(run: RunDir, cfg: RunConfig) -> dict[str, tuple[Any, Any]]:
    """The accepted changes of `cfg` against the run's saved config; raises ConfigError
    when there is no run to resume or when a change is refused. Reads only."""
    if not run.root.is_dir():
        raise ConfigError(
            f"--resume: {run.root} does not exist, so there is no run to continue; "
            "drop --resume to start a new run there"
        )
    if not run.is_run:
        raise ConfigError(
            f"--resume: {run.root} is not a run directory (it has no config.yaml); "
            "point output.dir at the run to continue, or drop --resume to start one"
        )
    try:
        saved = load_config(run.config)
    except ConfigError as exc:
        raise ConfigError(
            f"--resume: the run's saved config no longer loads, so the run cannot be "
            f"continued safely: {exc}"
        ) from None
    diff = compare(saved, cfg)
    if diff.refused:
        lines = [
            f"  {key}: {show(old)} -> {show(new)}"
            + (f" ({diff.why_refused[key]})" if key in diff.why_refused else "")
            for key, (old, new) in diff.refused.items()
        ]
        raise ConfigError(
            f"cannot resume {run.root}: these settings differ from the run's, and the "
            "resumed run would no longer continue the one it started:\n"
            + "\n".join(lines)
            + f"\nPut them back as in {run.config}, or start a new run in another "
            f"output.dir. What may change on resume: {_allowed()}"
        )
    return diff.accepted


def describe(changes: dict[str, tuple[Any, Any]]) -> str:
    """Accepted changes for the log: `train.log_every 1 -> 2, ...`."""
    return ", ".join(f"{key} {show(old)} -> {show(new)}" for key, (old, new) in changes.items())


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def show(value: Any) -> str:
    """A value as it is written in YAML (null, true, 1e-4, [a, b]), or (unset)."""
    if value is _ABSENT:
        return "(unset)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


class _Absent:
    """A key one of the two configs does not have (a method's own setting)."""


_ABSENT = _Absent()
_SECTIONS = ("model", "adapter", "data", "method", "train", "output")


def _section_order(key: str) -> tuple[int, str]:
    section = key.split(".")[0]
    return (_SECTIONS.index(section) if section in _SECTIONS else len(_SECTIONS), key)


def _allowed() -> str:
    """The SAFE and RAISE_ONLY keys, grouped by section: `train.log_every, eval_every, ...`."""
    groups: dict[str, list[str]] = {}
    for key in sorted(SAFE, key=_section_order):
        section, name = key.split(".", 1)
        groups.setdefault(section, []).append(name)
    safe = "; ".join(f"{section}.{', '.join(names)}" for section, names in groups.items())
    sections = ", ".join(f"{section}.*" for section in SAFE_SECTIONS)
    return f"{safe}; {sections}; raised only: {', '.join(RAISE_ONLY)}"


def _raised(old: Any, new: Any) -> bool:
    return isinstance(old, int) and isinstance(new, int) and new > old
