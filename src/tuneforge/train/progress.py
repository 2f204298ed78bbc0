"""Training progress: a rich bar on a terminal, one plain line per log step elsewhere."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from tuneforge.log import console as plain_console


class TrainingProgress:
    def __init__(self, total_steps: int, start_step: int = 0, console: Console | None = None):
        self.console = console or plain_console(stderr=True)  # rows are printed verbatim
        self.interactive = self.console.is_terminal
        self._bar = Progress(
            TextColumn("[bold]train[/]"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[tps]} tok/s"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.interactive,
        )
        self._task = self._bar.add_task(
            "train", total=total_steps, completed=start_step, loss="-", tps="-"
        )

    def __enter__(self) -> TrainingProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def step(self, step: int, loss: float, tokens_per_second: float) -> None:
        self._bar.update(
            self._task, completed=step, loss=number(loss, ".4f"), tps=f"{tokens_per_second:,.0f}"
        )

    def log(self, row: dict[str, Any]) -> None:
        """A metrics row as one line: above the live bar on a terminal, plain elsewhere."""
        text = "  ".join(f"{k}={_fmt(v)}" for k, v in row.items() if v is not None)
        if self.interactive:
            self.console.print(text, markup=False, emoji=False, highlight=False)
        else:
            print(text, file=sys.stderr, flush=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return number(value, ".4g")
    return str(value)


def number(value: float, spec: str) -> str:
    """`value` formatted by `spec`, with no minus sign on a zero (a loss of -0.0, or
    -0.00001 at four decimals, is shown as 0)."""
    text = format(value, spec)
    return text.lstrip("-") if text.startswith("-") and float(text) == 0 else text
