"""Errors a person can act on: each names where the problem is and what was expected."""

from __future__ import annotations


class TuneForgeError(Exception):
    """Base class for every error TuneForge reports to a user (the CLI prints it, exits 1)."""


class ConfigError(TuneForgeError):
    """A config file or override is wrong: names the file, line, key and the fix."""


class DataError(TuneForgeError):
    """A training record is wrong: names the file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field, self.detail = path, line, field, message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")

    def __reduce__(self):  # picklable, so workers can pass bad records back and forth
        return DataError, (self.path, self.line, self.field, self.detail)


class ModelNotFoundError(TuneForgeError):
    """The model name is neither a known alias, a local folder, nor reachable on the hub."""


class TrainingDiverged(TuneForgeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
