"""Read training files into typed examples: JSONL (line-numbered errors) or a JSON list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from tuneforge.data.records import Example, parse_record
from tuneforge.errors import DataError


def read_examples(path: str | Path, limit: int | None = None) -> list[Example]:
    """The examples of a .jsonl or .json file (the first `limit` when given); the first
    bad record raises a DataError naming its line (JSONL) or record number and field."""
    examples = []
    for where, line, obj in islice(raw_records(path), limit):
        if isinstance(obj, DataError):
            raise obj
        examples.append(parse_record(obj, where, line))
    if not examples:
        raise DataError(str(path), None, None, "no records in file")
    return examples


def raw_records(path: str | Path) -> Iterator[tuple[str, int, Any]]:
    """(where, line, decoded object) per record; an unparseable JSONL line is yielded as
    its DataError, so validators can report it and go on. `where` is the file, or
    'FILE record' for a JSON list, where `line` counts records from 1."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), None, None, "file not found")
    if path.suffix == ".json":
        for i, obj in enumerate(_json_list(path), start=1):
            yield f"{path} record", i, obj
        return
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield str(path), line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                message = f"malformed JSON: {exc.msg} (column {exc.colno})"
                yield str(path), line_no, DataError(str(path), line_no, None, message)


def _json_list(path: Path) -> list[Any]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(str(path), exc.lineno, None, f"malformed JSON: {exc.msg}") from None
    if isinstance(records, dict):
        return [records]  # a file holding one record
    if not isinstance(records, list):
        raise DataError(str(path), None, None, "expected a JSON list of records (or one record)")
    return records
