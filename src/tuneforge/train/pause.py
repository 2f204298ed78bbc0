"""Pausing a run: SIGUSR1 asks the loop to write a checkpoint after the current optimizer
step and stop (the jobs API's pause); `--resume` continues from that checkpoint.

A signal handler may only set a flag: the loop checks it between steps, where a
checkpoint is consistent.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def install() -> None:
    """Route SIGUSR1 to a pause request (main thread only, as every signal handler)."""
    signal.signal(signal.SIGUSR1, lambda signum, frame: _requested.set())


def requested() -> bool:
    return _requested.is_set()
