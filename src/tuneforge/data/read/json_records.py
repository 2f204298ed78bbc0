"""JSON Lines, and JSON files: a list of records, one record, or JSON Lines named .json.

Each record is numbered by the line it starts on. A list written on one physical line
(minified) numbers its records by their place in the list instead, since every one of
them starts on line 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from tuneforge.data.read import NoRecords, RawRecord
from tuneforge.data.read.streams import text_chunks, text_lines
from tuneforge.errors import DataError, location

_SPACE = " \t\r\n"


def jsonl_records(path: Path) -> Iterator[RawRecord]:
    """One record per non-blank line; a line that is not JSON is yielded as its error."""
    return _line_records(str(path), text_lines(path))


def _line_records(where: str, lines: Iterable[str]) -> Iterator[RawRecord]:
    for line_no, line in enumerate(lines, start=1):
        if line.isspace() or not line:  # isspace, not strip: a line may be 50 MB
            continue
        try:
            obj = json.loads(line)  # skips the line end; no copy of a long line
        except json.JSONDecodeError as exc:
            # Columns as the user sees the line: where a line cut short breaks, not after.
            exc = _decode_error(line.rstrip("\r\n")) or exc
            message = f"malformed JSON: {exc.msg} (column {exc.colno})"
            yield where, line_no, DataError(where, line_no, None, message)
        else:
            yield where, line_no, obj


def _decode_error(text: str) -> json.JSONDecodeError | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc
    return None


def json_records(path: Path) -> Iterator[RawRecord]:
    """The records of a JSON list (or of one JSON object). The whole text is decoded at
    once: the standard library cannot stream a JSON list, so .json files are read in
    full; JSON Lines are the format for files larger than memory."""
    where, text = str(path), "".join(text_chunks(path))
    start = _skip_space(text, 0)
    if start == len(text):
        return  # nothing at all: the caller reports the empty file
    if text[start] != "[":
        yield from _one_object(where, text, start)
        return
    end = len(text)
    while end > start and text[end - 1] in _SPACE:
        end -= 1
    # Minified: every record would say "line 1", so records are told apart by index.
    one_line = text.find("\n", start, end) == -1
    decoder = json.JSONDecoder()
    position, line, counted_to, index = start + 1, 1 + text.count("\n", 0, start), start, 0
    while True:
        position = _skip_space(text, position)
        if position < len(text) and text[position] == "]":
            break
        line += text.count("\n", counted_to, position)
        counted_to, index = position, index + 1
        shown = index if one_line else None
        try:
            obj, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            message = f"malformed JSON: {exc.msg} (column {exc.colno})"
            raise DataError(where, exc.lineno, None, message, shown) from None
        yield (location(where, line, index), None, obj) if one_line else (where, line, obj)
        position = _skip_space(text, position)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            lineno = text.count("\n", 0, position) + 1
            message = "malformed JSON: expected ',' or ']' after the record"
            raise DataError(where, lineno, None, message, shown)
    if index == 0:
        raise NoRecords(where, None, None, "empty JSON list: no records")
    trailing = _skip_space(text, position + 1)
    if trailing < len(text):
        lineno = text.count("\n", 0, trailing) + 1
        raise DataError(where, lineno, None, "unexpected content after the JSON list")


def _one_object(where: str, text: str, start: int) -> Iterator[RawRecord]:
    """A file holding one JSON object, or JSON Lines under a .json name."""
    try:
        obj, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        message = f"malformed JSON: {exc.msg} (column {exc.colno})"
        raise DataError(where, exc.lineno, None, message) from None
    if _skip_space(text, end) < len(text):  # more after the first value: JSON Lines
        yield from _line_records(where, text.split("\n"))
    elif not isinstance(obj, dict):
        raise DataError(where, None, None, "expected a JSON list of records (or one record)")
    else:
        yield where, text.count("\n", 0, start) + 1, obj


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in _SPACE:
        position += 1
    return position
