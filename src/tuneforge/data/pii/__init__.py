"""Find and replace personal data with typed placeholders (`<EMAIL>`, `<PHONE>`, ...).

`Scrubber(types, regions)` runs the detectors of the chosen types; `find_pii` and `scrub`
use the default types and regions of `PrepareConfig`. Precision and recall per type are
measured by benchmarks/pii_eval.py (docs/benchmarks.md).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from tuneforge.data.pii.detect import Scrubber, Span

__all__ = ["Scrubber", "Span", "find_pii", "scrub"]


@lru_cache(maxsize=1)
def _default() -> Scrubber:
    return Scrubber()


def find_pii(text: str) -> list[Span]:
    """Non-overlapping PII spans of the default types, in text order."""
    return _default().find(text)


def scrub(text: str) -> tuple[str, Counter[str]]:
    """The text with every PII span of the default types replaced by <KIND>, and how many
    of each kind."""
    return _default().scrub(text)
