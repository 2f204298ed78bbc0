"""Status messages go to stderr, so a command's stdout carries only its result."""

from __future__ import annotations

import sys


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
