"""Read training files into typed examples: JSONL (line-numbered errors) or a JSON list."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.data.records import Example, parse_record
from tuneforge.errors import DataError


def read_examples(path: str | Path) -> list[Example]:
    """All examples of a .jsonl or .json file; the first bad record raises a DataError
    naming its line (JSONL) or 1-based record number (JSON list) and field."""
    path = Path(path)
    if not path.is_file():
        raise DataError(str(path), None, None, "file not found")
    if path.suffix == ".json":
        examples = _read_json_list(path)
    else:
        examples = [parse_record(obj, str(path), line) for line, obj in _jsonl_objects(path)]
    if not examples:
        raise DataError(str(path), None, None, "no records in file")
    return examples


def _jsonl_objects(path: Path):
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    str(path), line_no, None, f"malformed JSON: {exc.msg} (column {exc.colno})"
                ) from None


def _read_json_list(path: Path) -> list[Example]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(str(path), exc.lineno, None, f"malformed JSON: {exc.msg}") from None
    if isinstance(records, dict):
        records = [records]  # a file holding one record
    if not isinstance(records, list):
        raise DataError(str(path), None, None, "expected a JSON list of records (or one record)")
    return [parse_record(obj, f"{path} record", i) for i, obj in enumerate(records, start=1)]
