"""The pieces `data.readers` builds on: bytes to text (compression, encodings), JSON
and JSON Lines, plain-text documents. Callers use `tuneforge.data.readers`."""

from __future__ import annotations

from typing import Any

from tuneforge.errors import DataError

RawRecord = tuple[str, int | None, Any]
"""(where, line, decoded object or the DataError that decoding it raised). The line is
None where `where` already locates the record (`data.json: record 3 (line 1)`)."""


class NoRecords(DataError):
    """A file that holds no record: an error on its own, skipped inside a folder (an
    empty shard of a dataset written in parts is not a mistake)."""
