"""One way to answer a mistyped name: the closest known one, and the list of them."""

from __future__ import annotations

import difflib


def did_you_mean(name: str, known: list[str], what: str) -> str:
    """`did you mean 'x'? known <what>: a, b, c` (without the question when nothing is close)."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known {what}: {', '.join(known) or '(none)'}"
