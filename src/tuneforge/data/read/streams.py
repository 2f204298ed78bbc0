"""Bytes to text for every text reader, streamed in chunks so memory holds one chunk.

- Compression follows the file name: `.gz`, `.bz2`, `.xz` (standard library) and `.zst`
  (the optional `zstandard` package, else pyarrow's codec, which Parquet support brings).
- The encoding follows the byte-order mark: UTF-8, UTF-16 or UTF-32 with one; UTF-8
  without. The mark itself is never part of the text, so a first record stays intact.
- Anything else (Latin-1, a binary file under a .jsonl name, UTF-16 without a mark) is
  one DataError naming the file, the line, the first offending byte and its offset,
  instead of one "malformed JSON" per line.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tuneforge.errors import DataError

CHUNK = 1 << 20
"""Bytes decoded at a time: large enough that Python overhead per chunk is nothing."""
# (mark, codec for the bytes after it, name in messages); UTF-32 LE before UTF-16 LE,
# whose mark is a prefix of it.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
ZSTD_HINT = "reading .zst files needs the zstandard package: pip install zstandard"


def _open_zstd(path: Path) -> BinaryIO:
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        # read_across_frames: files written by pzstd or by concatenation hold several.
        decompressor = zstandard.ZstdDecompressor()
        return decompressor.stream_reader(path.open("rb"), read_across_frames=True)
    try:
        import pyarrow as pa
    except ImportError:
        raise DataError(str(path), None, None, ZSTD_HINT) from None
    return pa.input_stream(str(path), compression="zstd")  # type: ignore[return-value]


OPENERS: dict[str, Callable[[Path], Any]] = {
    ".gz": gzip.open,  # each opens for reading bytes by default
    ".bz2": bz2.open,
    ".xz": lzma.open,
    ".zst": _open_zstd,
}


def data_suffix(path: Path) -> str:
    """The suffix that says what the file holds: `.jsonl` for `train.jsonl.gz`."""
    if path.suffix in OPENERS:
        return Path(path.stem).suffix
    return path.suffix


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes, decompressed as its name says."""
    opener = OPENERS.get(path.suffix)
    return opener(path) if opener else path.open("rb")


def text_chunks(path: Path) -> Iterator[str]:
    """The file's text in chunks of about CHUNK characters; a DataError at the first byte
    that is not text in the file's encoding."""
    with open_bytes(path) as raw:
        read = _reader(raw, path)
        data = read()
        while 0 < len(data) < 4 and (more := read()):  # enough to see any byte-order mark
            data += more
        mark, codec, name = next(
            (bom for bom in BOMS if data.startswith(bom[0])), (b"", "utf-8", "UTF-8")
        )
        decoder = codecs.getincrementaldecoder(codec)("strict")
        offset, lines = len(mark), 0  # bytes handed to the decoder so far; newlines seen
        data = data[len(mark) :]
        while data:
            held = len(decoder.getstate()[0])  # a character split across the last chunk
            # Valid UTF-8, but no text holds NUL: binary data, or UTF-16 without a mark.
            nul = data.find(b"\0") if name == "UTF-8" else -1
            try:
                text = decoder.decode(data if nul == -1 else data[: nul + 1])
            except UnicodeDecodeError as exc:
                raise _not_text(path, exc, offset - held, lines, name) from None
            if nul != -1:
                nul_byte = UnicodeDecodeError(codec, data, nul, nul + 1, "NUL byte")
                raise _not_text(path, nul_byte, offset, lines, name)
            lines += text.count("\n")
            offset += len(data)
            yield text
            data = read()
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:  # the file ends inside a character
            raise _not_text(path, exc, offset - len(exc.object), lines, name) from None


def text_lines(path: Path) -> Iterator[str]:
    """The file's lines, each with its '\\n' (the last may have none). Only '\\n' ends a
    line: JSON strings may hold U+2028 and other characters str.splitlines splits on."""
    head: list[str] = []
    for chunk in text_chunks(path):
        pieces = chunk.split("\n")
        if len(pieces) == 1:
            head.append(chunk)
            continue
        head.append(pieces[0])
        yield "".join(head) + "\n"
        for piece in pieces[1:-1]:
            yield piece + "\n"
        head = [pieces[-1]]
    if last := "".join(head):
        yield last


def _reader(raw: BinaryIO, path: Path):
    """raw.read(CHUNK), with a broken compressed stream reported as one DataError."""

    def read() -> bytes:
        try:
            return raw.read(CHUNK)
        except Exception as exc:
            # Every codec has its own error types, and each means the data is corrupt.
            if path.suffix not in OPENERS and not isinstance(exc, OSError):
                raise
            message = f"cannot read {path.suffix or 'the file'}: {exc}"
            raise DataError(str(path), None, None, message) from None

    return read


def _not_text(path: Path, exc: UnicodeDecodeError, start: int, lines: int, name: str):
    """The DataError for the first byte that is not `name` text; `start` is the file
    offset of exc.object's first byte, `lines` the newlines before it."""
    good = exc.object[: exc.start]
    line = lines + good.decode(exc.encoding, errors="replace").count("\n") + 1
    byte = exc.object[exc.start]
    where = " of the decompressed data" if path.suffix in OPENERS else ""
    unmarked = byte == 0 and name == "UTF-8"
    hint = " (binary data, or UTF-16 without a byte-order mark)" if unmarked else ""
    message = f"not {name} text: byte 0x{byte:02x} at offset {start + exc.start}{where}{hint}"
    return DataError(str(path), line, None, message)
