"""The pieces `data.readers` builds on: bytes to text (compression, encodings), JSON
and JSON Lines, plain-text documents. Callers use `tuneforge.data.readers`."""

from __future__ import annotations

import re
from typing import Any

from tuneforge.errors import DataError

RawRecord = tuple[str, int | None, Any]
"""(where, line, decoded object or the DataError that decoding it raised). The line is
None where `where` already locates the record (`data.json: record 3 (line 1)`)."""

_LISTED = re.compile(r"(?P<file>.*): record (?P<index>\d+)(?: \(line \d+\))?")


def record_place(where: str, line: int | None) -> tuple[str, str | None, int | None]:
    """(file, "line" or "record", number): how a person finds a record in its file, by
    its line, or by its place in a JSON list written on one line, where every record is
    on line 1 and `where` names it (errors.location). (where, None, None) when neither
    is known: a problem of the whole file."""
    if line is not None:
        return where, "line", line
    if listed := _LISTED.fullmatch(where):
        return listed["file"], "record", int(listed["index"])
    return where, None, None


class NoRecords(DataError):
    """A file that holds no record: an error on its own, skipped inside a folder (an
    empty shard of a dataset written in parts is not a mistake)."""
