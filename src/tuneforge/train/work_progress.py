"""Progress of a counted piece of work before training (reference log-probabilities):
a bar with the rate and time left on a terminal, a start and an end line elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def work_progress(label: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`; says how many `unit` there are and how long they took."""
    console = Console(stderr=True)
    started = time.perf_counter()
    print(f"{label}: {total:,} {unit}", file=sys.stderr, flush=True)
    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, disable=not console.is_terminal, transient=True,
    )  # fmt: skip
    task = bar.add_task(label, total=total)
    with bar:
        yield lambda n: bar.advance(task, n)
    seconds = time.perf_counter() - started
    print(f"{label}: {total:,} {unit} in {seconds:.1f} s", file=sys.stderr, flush=True)
