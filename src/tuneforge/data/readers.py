"""Read records from JSONL, JSON, CSV, Parquet, a folder of those, or a hub dataset id.

Every record keeps where it came from: the file and the line it starts on (for Parquet
and hub datasets, the row number), so errors point at something a person can open.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from tuneforge.data.kinds import examples_of
from tuneforge.data.prompts import PromptExample
from tuneforge.data.records import Example
from tuneforge.errors import DataError

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
STRUCTURED_COLUMNS = {
    "messages", "conversations", "tools", "history", "chosen", "rejected", "prompt",
    "completion", "input", "preferred_output", "non_preferred_output", "completions",
    "responses", "ranks", "scores",
}  # fmt: skip
TEXT_OR_MESSAGE_COLUMNS = {"prompt", "completion", "chosen", "rejected", "input"}
RawRecord = tuple[str, int, Any]
"""(where, line, decoded object or the DataError that decoding it raised)."""


def read_examples(
    path: str | Path, limit: int | None = None, kind: str | None = None
) -> list[Example] | list[PromptExample]:
    """The examples of a file, folder or dataset id (from the first `limit` records when
    given), as `kind` (data.kinds.KINDS) when given; the first bad record raises a
    DataError naming its line and field."""
    examples: list = []
    for where, line, obj in islice(raw_records(path), limit):
        if isinstance(obj, DataError):
            raise obj
        examples += examples_of(obj, kind, where, line)
    if not examples:
        raise DataError(str(path), None, None, "no usable records found")
    return examples


def raw_records(source: str | Path) -> Iterator[RawRecord]:
    """Decoded records one at a time, so files larger than memory stream through. An
    undecodable record is yielded as its DataError, so validators can report it and go on."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise DataError(str(path), None, None, f"folder holds no {'/'.join(SUFFIXES)} files")
        for file in files:
            yield from _file_records(file)
    elif path.is_file():
        yield from _file_records(path)
    elif _looks_like_dataset_id(str(source)):
        yield from _hub_records(str(source))
    else:
        raise DataError(str(path), None, None, "file not found")


def _file_records(path: Path) -> Iterator[RawRecord]:
    readers = {".json": _json_records, ".csv": _csv_records, ".parquet": _parquet_records}
    return readers.get(path.suffix, _jsonl_records)(path)


def _jsonl_records(path: Path) -> Iterator[RawRecord]:
    where = str(path)
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield where, line_no, json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                message = f"malformed JSON: {exc.msg} (column {exc.colno})"
                yield where, line_no, DataError(where, line_no, None, message)


def _json_records(path: Path) -> Iterator[RawRecord]:
    """A JSON list of records (or one record), each numbered by the line it starts on.
    Files named .json that hold JSON Lines are read as such."""
    where, text = str(path), path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    start = _skip_space(text, 0)
    if start < len(text) and text[start] != "[":
        try:
            obj, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise DataError(where, exc.lineno, None, f"malformed JSON: {exc.msg}") from None
        if _skip_space(text, end) < len(text):  # more after the first value: JSON Lines
            yield from _jsonl_records(path)
        elif not isinstance(obj, dict):
            raise DataError(where, None, None, "expected a JSON list of records (or one record)")
        else:
            yield where, text.count("\n", 0, start) + 1, obj
        return
    position, line = start + 1, 1 + text.count("\n", 0, start)
    counted_to = start
    while True:
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "]":
            break
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            obj, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DataError(where, exc.lineno, None, f"malformed JSON: {exc.msg}") from None
        yield where, line, obj
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            lineno = text.count("\n", 0, position) + 1
            raise DataError(where, lineno, None, "malformed JSON: expected ',' or ']'")
    trailing = _skip_space(text, position + 1)
    if trailing < len(text):
        lineno = text.count("\n", 0, trailing) + 1
        raise DataError(where, lineno, None, "unexpected content after the JSON list")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _csv_records(path: Path) -> Iterator[RawRecord]:
    """One record per row. Cells of columns that hold structure (`messages`, `chosen`,
    `label`, ...) are decoded from JSON when they hold it; all other cells stay text."""
    where = str(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None) or []
        row_start = reader.line_num + 1
        for row in reader:
            if row and len(row) > len(header):
                error = DataError(where, row_start, None, "more cells than columns")
                yield where, row_start, error
            elif row:  # a blank line reads as an empty row
                yield where, row_start, {k: _cell(k, v) for k, v in zip(header, row, strict=False)}
            row_start = reader.line_num + 1


def _cell(column: str, value: str) -> Any:
    if column == "label":
        return {"true": True, "false": False, "1": True, "0": False}.get(
            value.strip().lower(), value
        )
    if column not in STRUCTURED_COLUMNS or value.strip()[:1] not in ("[", "{"):
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    if column in TEXT_OR_MESSAGE_COLUMNS and not _looks_like_messages(decoded):
        return value  # a prompt that happens to start with "[" is still a prompt
    return decoded


def _looks_like_messages(value: Any) -> bool:
    if isinstance(value, dict) and "messages" in value:  # OpenAI DPO's input
        return True
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(m, dict) and ("role" in m or "from" in m) for m in items)


def _drop_nulls(value: Any) -> Any:
    """Arrow gives every struct in a column every key, null where a record had none."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _parquet_records(path: Path) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for obj in batch.to_pylist():
            row += 1
            yield str(path), row, _drop_nulls(obj)


def _looks_like_dataset_id(source: str) -> bool:
    name = source.split(":")[0]
    return name.count("/") == 1 and not name.startswith((".", "/")) and Path(name).suffix == ""


def _hub_records(source: str) -> Iterator[RawRecord]:
    """`owner/name` or `owner/name:split` from the Hugging Face hub, streamed."""
    import datasets

    name, _, split = source.partition(":")
    try:
        rows = datasets.load_dataset(name, split=split or "train", streaming=True)
        for row, obj in enumerate(rows, start=1):
            yield source, row, _drop_nulls(obj)
    except Exception as exc:  # offline, unknown id, gated: all one message to the user
        raise DataError(
            source, None, None, f"not a local file or folder, and the hub dataset failed: {exc}"
        ) from None
