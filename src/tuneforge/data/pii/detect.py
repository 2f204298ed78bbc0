"""Run the detectors of the chosen PII types over a text and replace what they find.

Each detector proposes candidate spans cheaply (a regex, mostly) and confirms each one
with what the candidate carries: a checksum (Luhn, IBAN mod-97), a parse (ipaddress,
libphonenumber), or a gazetteer. Detectors run in a fixed order and earlier ones claim
their text first, so a card number is never also read as a phone number.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from tuneforge.config.prepare import DEFAULT_PII_REGIONS, DEFAULT_PII_TYPES


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Detector:
    kind: str
    candidates: Callable[[str], Iterable[tuple[int, int]]]
    """(start, end) of every place in the text that might be this kind."""
    confirm: Callable[[str, int, int], bool] | None = None
    """Whether text[start:end] is one, given the whole text for context."""
    claim_rejected: bool = False
    """Keep later detectors off a candidate that failed `confirm` (an IBAN with a bad
    checksum is still an account-number-shaped token, not a phone number)."""
    needs: str = "digit"
    """What any match contains: "digit", "upper" (an uppercase letter), or a character.
    Texts without it skip the detector, which is most of the cost saved on prose."""


def regex(pattern: str, flags: int = 0) -> Callable[[str], Iterator[tuple[int, int]]]:
    compiled = re.compile(pattern, flags)
    return lambda text: (m.span() for m in compiled.finditer(text))


_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[^\W\d_a-z]")  # a letter other than a-z: a cheap superset of capitals


class Scrubber:
    """The detectors of `types`, in claim order; phone numbers are read with the national
    formats of `regions` (numbers written with a +country code need no region)."""

    def __init__(
        self,
        types: Iterable[str] = DEFAULT_PII_TYPES,
        regions: Sequence[str] = DEFAULT_PII_REGIONS,
    ):
        from tuneforge.data.pii.registry import detectors

        wanted = set(types)
        every = detectors(tuple(regions))
        if unknown := wanted - {d.kind for d in every}:
            known = ", ".join(dict.fromkeys(d.kind for d in every))
            raise ValueError(f"unknown PII types {sorted(unknown)}: expected some of {known}")
        self.types = wanted
        self.detectors = [d for d in every if d.kind in wanted]
        if "PERSON" in wanted:
            from tuneforge.data.pii.gazetteer import names

            names()  # load (and on first use build) the name list now, not in each worker

    def find(self, text: str) -> list[Span]:
        """Non-overlapping PII spans, in text order."""
        claimed: list[Span] = []
        present = {"digit": _DIGIT.search(text) is not None}
        for detector in self.detectors:
            need = detector.needs
            if need not in present:
                present[need] = _UPPER.search(text) is not None if need == "upper" else need in text
            if not present[need]:
                continue
            for start, end in detector.candidates(text):
                if any(start < s.end and s.start < end for s in claimed):
                    continue
                if detector.confirm is None or detector.confirm(text, start, end):
                    claimed.append(Span(detector.kind, start, end))
                elif detector.claim_rejected:
                    claimed.append(Span("", start, end))
        return sorted((s for s in claimed if s.kind), key=lambda s: s.start)

    def scrub(self, text: str) -> tuple[str, Counter[str]]:
        """The text with every PII span replaced by <KIND>, and how many of each kind."""
        spans = self.find(text)
        parts, last = [], 0
        for span in spans:
            parts += [text[last : span.start], f"<{span.kind}>"]
            last = span.end
        return "".join(parts) + text[last:], Counter(span.kind for span in spans)
