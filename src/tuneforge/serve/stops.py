"""Stop strings over text that arrives a token at a time.

A stop string may be split across tokens ("</" then "end>"), so text that could still
become the start of one is held back until the next token decides; the stop string
itself is never shown, as with OpenAI.
"""

from __future__ import annotations

from collections.abc import Sequence


class StopMatcher:
    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]  # "" would stop before the first character
        self.held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """New decoded text in; the part that is safe to show out. After a match,
        `stopped` is True and later calls return ""."""
        if self.stopped:
            return ""
        self.held += text
        cut = min((i for i in (self.held.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self.held = self.held[:cut], ""
            return out
        keep = self._partial_suffix()
        out = self.held[: len(self.held) - keep]
        self.held = self.held[len(self.held) - keep :]
        return out

    def flush(self) -> str:
        """At the end of the reply, what was held is plain text after all."""
        out, self.held = ("" if self.stopped else self.held), ""
        return out

    def _partial_suffix(self) -> int:
        """Length of the longest tail of `held` that begins some stop string."""
        longest = max((len(s) for s in self.stops), default=1)
        for k in range(min(len(self.held), longest - 1), 0, -1):
            tail = self.held[-k:]
            if any(s.startswith(tail) for s in self.stops):
                return k
        return 0
