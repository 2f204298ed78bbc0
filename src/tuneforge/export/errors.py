"""The errors an export reports: what cannot be exported and why, and a failed read-back."""

from __future__ import annotations

from typing import Any

from tuneforge.errors import TuneForgeError


class ExportError(TuneForgeError):
    """The model or adapter cannot be exported as asked: names the file, the field and
    what to do instead (merge the adapter first, pick another format, ...)."""


class ParityError(ExportError):
    """The exported file does not compute what its source computes. Carries the numbers
    (`report`, a JSON-ready dict) so the caller can still write them next to the file."""

    def __init__(self, message: str, report: dict[str, Any]):
        self.report = report
        super().__init__(message)

    def __reduce__(self):
        return ParityError, (str(self), self.report)
