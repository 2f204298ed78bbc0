"""Read records from JSONL, JSON, CSV, Parquet, plain text, a folder of those, or a hub
dataset id; text files may be compressed (.gz, .bz2, .xz, .zst: data/read/streams.py).

Every record keeps where it came from: the file and the line it starts on (for Parquet
and hub datasets, the row number; for a JSON list on one line, its index), so errors
point at something a person can open. A file that cannot be read as text, or holds no
record, is one error naming the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from tuneforge.data.kinds import examples_of
from tuneforge.data.prompts import PromptExample
from tuneforge.data.read import NoRecords, RawRecord
from tuneforge.data.read.json_records import json_records, jsonl_records
from tuneforge.data.read.plain_text import text_records
from tuneforge.data.read.streams import data_suffix, text_lines
from tuneforge.data.records import Example
from tuneforge.errors import DataError

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
TEXT_SUFFIXES = (".txt", ".md")
"""Plain text: records only under format "text" (data/read/plain_text.py)."""
PLAIN_TEXT_HINT = "plain text: pass --format text to train on it as continued pretraining"
STRUCTURED_COLUMNS = {
    "messages", "conversations", "tools", "history", "chosen", "rejected", "prompt",
    "completion", "input", "preferred_output", "non_preferred_output", "completions",
    "responses", "ranks", "scores",
}  # fmt: skip
TEXT_OR_MESSAGE_COLUMNS = {"prompt", "completion", "chosen", "rejected", "input"}
__all__ = ["RawRecord", "raw_records", "read_examples"]


def read_examples(
    path: str | Path, limit: int | None = None, kind: str | None = None, format: str = "auto"
) -> list[Example] | list[PromptExample]:
    """The examples of a file, folder or dataset id (from the first `limit` records when
    given), as `kind` (data.kinds.KINDS) when given, in `format` (detected per record
    when "auto"); the first bad record raises a DataError naming its line and field."""
    examples: list = []
    for where, line, obj in islice(raw_records(path, format), limit):
        if isinstance(obj, DataError):
            raise obj
        examples += examples_of(obj, kind, where, line, format)
    if not examples:
        raise DataError(str(path), None, None, "no usable records found")
    return examples


def raw_records(source: str | Path, format: str = "auto") -> Iterator[RawRecord]:
    """Decoded records one at a time, so files larger than memory stream through. An
    undecodable record is yielded as its DataError, so validators can report it and go
    on; a file that is not text, or holds no record, raises one. Plain-text files are
    read only when `format` is "text"."""
    path = Path(source)
    if path.is_dir():
        yield from _folder_records(path, format)
    elif path.is_file():
        yield from _file_records(path, format)
    elif _looks_like_dataset_id(str(source)):
        yield from _hub_records(str(source))
    else:
        raise DataError(str(path), None, None, "file not found")


def _folder_records(folder: Path, format: str) -> Iterator[RawRecord]:
    """The records of every data file under the folder, in sorted order. Plain-text
    files count only under format "text", so a README beside the data is no error."""
    wanted = SUFFIXES + (TEXT_SUFFIXES if format == "text" else ())
    files = sorted(p for p in folder.rglob("*") if data_suffix(p) in wanted and p.is_file())
    if not files:
        raise DataError(
            str(folder),
            None,
            None,
            f"folder holds no {'/'.join(wanted)} files (plain or compressed)",
        )
    found = False
    for file in files:
        try:
            for record in _file_records(file, format):
                found = True
                yield record
        except NoRecords:
            continue  # an empty shard; raised before any record of its file
    if not found:
        raise DataError(
            str(folder),
            None,
            None,
            f"folder holds no records: its {len(files)} data files are empty",
        )


def _file_records(path: Path, format: str) -> Iterator[RawRecord]:
    suffix = data_suffix(path)
    if suffix in TEXT_SUFFIXES and format != "text":
        raise DataError(str(path), None, None, PLAIN_TEXT_HINT)
    read = READERS.get(suffix, jsonl_records)  # any other name: JSON Lines, the common case
    found = False
    for record in read(path):
        found = True
        yield record
    if not found:
        raise NoRecords(str(path), None, None, "empty file: no records")


def _csv_records(path: Path) -> Iterator[RawRecord]:
    """One record per row. Cells of columns that hold structure (`messages`, `chosen`,
    `label`, ...) are decoded from JSON when they hold it; all other cells stay text."""
    where = str(path)
    reader = csv.reader(text_lines(path))  # lines keep their ends, as newline="" would
    header = next(reader, None)
    if header is None:
        return
    row_start, rows = reader.line_num + 1, 0
    for row in _rows(reader, where):
        rows += 1
        if row and len(row) > len(header):
            error = DataError(where, row_start, None, "more cells than columns")
            yield where, row_start, error
        elif row:  # a blank line reads as an empty row
            yield where, row_start, {k: _cell(k, v) for k, v in zip(header, row, strict=False)}
        row_start = reader.line_num + 1
    if not rows:
        raise NoRecords(where, None, None, "only a header row: no records")


def _rows(reader, where: str) -> Iterator[list[str]]:
    """The reader's rows; a row the csv module cannot parse stops the file with one
    error at its line (an unclosed quote would swallow the rest of the file anyway)."""
    try:
        yield from reader
    except csv.Error as exc:
        raise DataError(where, reader.line_num, None, f"cannot read this CSV row: {exc}") from None


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
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        batches = pq.ParquetFile(path).iter_batches(batch_size=4096)
        for batch in batches:
            for obj in batch.to_pylist():
                row += 1
                yield str(path), row, _drop_nulls(obj)
    except (pa.ArrowException, OSError) as exc:  # not Parquet, or cut short
        raise DataError(str(path), None, None, f"cannot read as Parquet: {exc}") from None


READERS: dict[str, Callable[[Path], Iterator[RawRecord]]] = {
    ".jsonl": jsonl_records,
    ".json": json_records,
    ".csv": _csv_records,
    ".parquet": _parquet_records,
    ".txt": text_records,
    ".md": text_records,
}


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
