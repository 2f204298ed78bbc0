"""The run directory: the contract that eval, merge, serve and the jobs API read.

config.yaml  metrics.jsonl  loss.png  summary.json  checkpoints/step-N/  adapter/|model/
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.errors import TuneForgeError


@dataclass(frozen=True)
class RunDir:
    root: Path

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

    def claim(self, resume: bool, overwrite: bool) -> None:
        """Create the directory, refusing to mix a new run into an existing one."""
        has_run = self.config.exists()
        if has_run and not (resume or overwrite):
            raise TuneForgeError(
                f"{self.root} already holds a run; pass --resume to continue it, "
                "output.overwrite=true to replace it, or choose another output.dir"
            )
        if overwrite and not resume:
            for stale in (self.metrics, self.summary, self.plot):
                stale.unlink(missing_ok=True)
            # Old checkpoints would be resumed or outlive new ones when pruning, and an old
            # adapter/ would be loaded in place of a new model/ (or the reverse).
            for stale_dir in (self.checkpoints, self.root / "adapter", self.root / "model"):
                if has_run:  # only ever delete folders of a run, never a user's own
                    shutil.rmtree(stale_dir, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    def append_metrics(self, row: dict[str, Any]) -> None:
        # One line per row, flushed at once: a crash loses at most the row being written.
        with self.metrics.open("a") as handle:
            handle.write(json.dumps(row) + "\n")

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

    def truncate_metrics(self, step: int) -> None:
        """Keep rows up to `step` (resume replays the steps after the checkpoint)."""
        kept = [row for row in self.read_metrics() if row["step"] <= step]
        write_atomic(self.metrics, "".join(json.dumps(row) + "\n" for row in kept))

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_atomic(self.summary, json.dumps(summary, indent=2) + "\n")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
