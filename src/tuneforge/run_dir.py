"""The run directory: the contract between training and every stage that reads a run.

    runs/<name>/
      config.yaml            resolved config (every default filled in)
      metrics.jsonl          one JSON object per logged step; validation rows carry eval_* keys;
                             event rows ({"event": "resumed", "step": N, ...}) mark what
                             happened between steps, and carry no metric
      loss.png               loss curves (and each method's judging metric)
      summary.json           status, tokens, seconds, best checkpoint, ... ("running" until the end)
      checkpoints/step-N/    resumable state, written to step-N.partial/ and renamed; the
                             `state.json` inside is the marker that it is complete
      adapter/ | model/      the product: a PEFT adapter, or a full HF model folder
      *.pt                   caches a method keeps between attempts (reference log-probs)

Training writes a run through this module; eval, merge, serve and the jobs API only read
it, and import nothing from `tuneforge.train` to do so. It needs nothing beyond the
standard library and PyYAML, so reading a run never loads torch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tuneforge.errors import TuneForgeError

WeightsKind = Literal["adapter", "model"]
STEP_DIR = re.compile(r"^step-(\d+)$")
COMPLETE_MARKER = "state.json"
"""Written last into a checkpoint: a step-N/ folder without it is never read."""


@dataclass(frozen=True)
class Checkpoint:
    """One complete checkpoint folder."""

    step: int
    path: Path

    @property
    def adapter(self) -> Path | None:
        """The checkpoint's weights in PEFT format (adapter runs), usable as an adapter."""
        folder = self.path / "adapter"
        return folder if folder.is_dir() else None

    def state(self) -> dict[str, Any]:
        """The loop state saved with it (step, epoch, best validation score, ...)."""
        return json.loads((self.path / COMPLETE_MARKER).read_text())


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # ------------------------------------------------------------------ the layout

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def plot(self) -> Path:
        return self.root / "loss.png"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def model(self) -> Path:
        return self.root / "model"

    def output(self, uses_adapter: bool) -> Path:
        """Where training saves its product: adapter/ for adapters, model/ for full weights."""
        return self.adapter if uses_adapter else self.model

    def cache(self, name: str) -> Path:
        """A file a method keeps between attempts of the same run (resume reuses it)."""
        return self.root / name

    # ------------------------------------------------------------------ reading

    @property
    def is_run(self) -> bool:
        """Whether training has claimed this folder (it writes config.yaml first)."""
        return self.config.is_file()

    def read_config(self) -> dict[str, Any]:
        """The resolved config as plain data (validate it with tuneforge.config when needed)."""
        if not self.is_run:
            raise TuneForgeError(f"{self.root}: not a run directory (no config.yaml)")
        import yaml

        return yaml.safe_load(self.config.read_text())

    def base_model(self) -> str:
        """The model the run started from, as it was named (alias, folder or hub id)."""
        return self.read_config()["model"]["name_or_path"]

    def method(self) -> str:
        return self.read_config()["method"]["name"]

    def weights(self) -> tuple[Path, WeightsKind] | None:
        """The trained product, or None while the run has not saved one."""
        for folder, kind in ((self.adapter, "adapter"), (self.model, "model")):
            if folder.is_dir():
                return folder, kind  # type: ignore[return-value]
        return None

    def read_summary(self) -> dict[str, Any] | None:
        if not self.summary.is_file():
            return None
        return json.loads(self.summary.read_text())

    def status(self) -> str:
        """completed | failed | diverged | interrupted, or running while training (also
        what a process killed without warning leaves behind: check it is still alive);
        "created" for a claimed folder that has not started training."""
        summary = self.read_summary()
        return summary["status"] if summary else "created"

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics.exists():
            return []
        rows = []
        for line in self.metrics.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line from a crash mid-write
        return rows

    def list_checkpoints(self) -> list[Checkpoint]:
        return list_checkpoints(self.checkpoints)

    def latest_checkpoint(self) -> Checkpoint | None:
        found = self.list_checkpoints()
        return found[-1] if found else None

    def best_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the best validation score, when the run evaluated and kept it."""
        best = (self.read_summary() or {}).get("best_step")
        return next((c for c in self.list_checkpoints() if c.step == best), None)

    # ------------------------------------------------------------------ writing (training)

    def check_claim(self, resume: bool, overwrite: bool) -> None:
        """Raise what `claim` would refuse, writing nothing: a new run into an existing
        one, or a folder that cannot be written (checked before a model is loaded)."""
        if self.is_run and not (resume or overwrite):
            raise TuneForgeError(
                f"{self.root} already holds a run; pass --resume to continue it, "
                "output.overwrite=true to replace it, or choose another output.dir"
            )
        check_writable(self.root, "output.dir")

    def claim(self, resume: bool, overwrite: bool) -> None:
        """Create the directory, refusing to mix a new run into an existing one."""
        has_run = self.is_run
        self.check_claim(resume, overwrite)
        if overwrite and not resume:
            for stale in (self.metrics, self.summary, self.plot):
                stale.unlink(missing_ok=True)
            # Old checkpoints would be resumed or outlive new ones when pruning, and an old
            # adapter/ would be loaded in place of a new model/ (or the reverse).
            for stale_dir in (self.checkpoints, self.adapter, self.model):
                if has_run:  # only ever delete folders of a run, never a user's own
                    shutil.rmtree(stale_dir, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    def write_config(self, resolved: dict[str, Any]) -> None:
        """The resolved config (every default filled in), replaced whole or not at all."""
        import yaml

        write_atomic(self.config, yaml.safe_dump(resolved, sort_keys=False))

    def append_event(self, event: str, step: int, **details: Any) -> None:
        """A row saying what happened at `step` (after that step's metrics), e.g.
        `resumed` with the settings that changed; readers of metrics skip rows with
        an "event" key or take only the metrics they know."""
        self.append_metrics({"event": event, "step": step, **details})

    def append_metrics(self, row: dict[str, Any]) -> None:
        # One line per row, flushed at once: a crash loses at most the row being written.
        with self.metrics.open("a") as handle:
            handle.write(json.dumps(row) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Keep rows up to `step` (resume replays the steps after the checkpoint)."""
        kept = [row for row in self.read_metrics() if row["step"] <= step]
        write_atomic(self.metrics, "".join(json.dumps(row) + "\n" for row in kept))

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_atomic(self.summary, json.dumps(summary, indent=2) + "\n")


def list_checkpoints(directory: Path) -> list[Checkpoint]:
    """The complete checkpoints in `directory`, oldest first."""
    found = [
        Checkpoint(int(match.group(1)), path)
        for path in Path(directory).glob("step-*")
        if (match := STEP_DIR.match(path.name)) and (path / COMPLETE_MARKER).is_file()
    ]
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest complete checkpoint folder in `directory`, or None."""
    found = list_checkpoints(directory)
    return found[-1].path if found else None


class WeightsNotFound(TuneForgeError, FileNotFoundError):
    """No trained weights at a path given as a run, adapter or model folder (a
    FileNotFoundError too, for callers that try another source when it is missing)."""


def resolve_adapter_dir(path: str | Path) -> tuple[Path, WeightsKind]:
    """A run directory, checkpoint, adapter folder or model folder -> (folder, kind)."""
    path = Path(path)
    if not path.exists():
        raise WeightsNotFound(f"{path}: no such folder (expected a run directory or an adapter)")
    if found := RunDir(path).weights():
        return found
    if (path / "adapter_config.json").is_file():
        return path, "adapter"
    if (path / "config.json").is_file():
        return path, "model"
    hint = "; it has not saved one yet" if RunDir(path).is_run else ""
    raise WeightsNotFound(
        f"{path}: neither a run directory (with adapter/ or model/) nor an adapter folder{hint}"
    )


def base_model_of(path: str | Path) -> str | None:
    """The base model of a run directory (its resolved config), a checkpoint or adapter
    folder (PEFT's adapter_config.json), or a full model folder (itself)."""
    run = RunDir(Path(path))
    if run.is_run:
        return run.base_model()
    folder, kind = resolve_adapter_dir(path)
    if kind == "model":
        return str(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    return config.get("base_model_name_or_path")


def check_writable(path: Path, setting: str) -> None:
    """Raise unless `path` (a folder, made if missing) can be written: the nearest
    existing folder at or above it must be writable (a read-only mount or a folder
    without write permission fails here, before any work is done)."""
    existing = Path(path).absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise TuneForgeError(f"{setting} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TuneForgeError(
            f"{setting} {path}: cannot write in {existing} (read-only or no permission); "
            f"choose another {setting}"
        )


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
