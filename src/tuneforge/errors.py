"""Errors a person can act on: each names where the problem is and what was expected."""

from __future__ import annotations


class TuneForgeError(Exception):
    """Base class for every error TuneForge reports to a user (the CLI prints it, exits 1)."""


class ConfigError(TuneForgeError):
    """A config file or override is wrong: names the file, line, key and the fix."""


def location(path: str, line: int | None = None, index: int | None = None) -> str:
    """Where a record is, as a person opens it: `file:line`, or `file: record N (line L)`
    when line numbers cannot tell records apart (a JSON list written on one line).
    N counts records from 1, as lines are counted (jq's `.[N-1]`)."""
    if index is not None:
        return f"{path}: record {index}" + (f" (line {line})" if line is not None else "")
    return f"{path}:{line}" if line is not None else str(path)


class DataError(TuneForgeError):
    """A training record is wrong: names the file, line (or record index) and field."""

    def __init__(
        self,
        path: str,
        line: int | None,
        field: str | None,
        message: str,
        index: int | None = None,
    ):
        self.path, self.line, self.field, self.detail = path, line, field, message
        self.index = index
        where = location(path, line, index)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")

    def __reduce__(self):  # picklable, so workers can pass bad records back and forth
        return DataError, (self.path, self.line, self.field, self.detail, self.index)


class ModelNotFoundError(TuneForgeError):
    """The model name is neither a known alias, a local folder, nor reachable on the hub."""


class TrainingDiverged(TuneForgeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingPaused(TuneForgeError):
    """A pause was requested (SIGUSR1): a checkpoint was written and the run stopped;
    `tuneforge train ... --resume` continues from it."""

    def __init__(self, step: int):
        self.step = step
        super().__init__(f"paused at step {step}; continue with --resume")
