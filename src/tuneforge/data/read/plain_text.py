"""Plain text (.txt, .md) as continued-pretraining records: `{"text": document}`.

The unit is a document, and documents are separated by blank lines: paragraph-separated
prose (tiny_shakespeare: 7,222 speeches) gives one record per paragraph. A file with no
blank line between two lines of text is taken as one document per line, the layout of
corpus dumps (wiki_demo: 30 lines, 30 articles), where a blank-line split would make the
whole file one record.

Why not a whole file per record: training cuts every example at data.max_length tokens,
so one record per file would train on the first max_length tokens of each file and drop
the rest; documents a few paragraphs long lose little, and packing (data.packing) fills
rows with them. Each record is numbered by the line its document starts on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tuneforge.data.read import RawRecord
from tuneforge.data.read.streams import text_lines


def text_records(path: Path) -> Iterator[RawRecord]:
    where = str(path)
    by_line = not _separates_with_blank_lines(path)
    document: list[str] = []
    first = 0
    for line_no, line in enumerate(text_lines(path), start=1):
        if line.isspace():
            if document:
                yield where, first, {"text": _joined(document)}
                document = []
            continue
        if not document:
            first = line_no
        document.append(line)
        if by_line:
            yield where, first, {"text": _joined(document)}
            document = []
    if document:
        yield where, first, {"text": _joined(document)}


def _separates_with_blank_lines(path: Path) -> bool:
    """Whether a blank line stands between two lines of text somewhere in the file; a
    first pass, which stops at the first such blank line."""
    seen_text = blank_after_text = False
    for line in text_lines(path):
        if line.isspace():
            blank_after_text = seen_text
        elif blank_after_text:
            return True
        else:
            seen_text = True
    return False


def _joined(lines: list[str]) -> str:
    text = "".join(lines)
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
