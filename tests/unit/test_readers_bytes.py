"""Any file a user has is read, or refused in one line: compressed files stream through,
byte-order marks are honoured, and a file that is not text or holds no record is one
error naming the file (and, for bytes, the line, byte and offset)."""

from __future__ import annotations

import bz2
import codecs
import gzip
import json
import lzma
import sys

import pytest

from tuneforge.data.read import streams
from tuneforge.data.readers import raw_records, read_examples
from tuneforge.errors import DataError

RECORDS = [
    {
        "messages": [
            {"role": "user", "content": "Bonjour ?"},
            {"role": "assistant", "content": "Oui"},
        ]
    },
    {"text": "café, naïve, 東京 and a line separator\u2028inside a string"},
]
JSONL = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)


def records(path, format="auto") -> list:
    return [(line, obj) for _, line, obj in raw_records(path, format)]


def error_of(path, format="auto") -> DataError:
    with pytest.raises(DataError) as info:
        list(raw_records(path, format))
    return info.value


# --- compression -------------------------------------------------------------------------


@pytest.mark.parametrize("name, compress", [
    ("train.jsonl.gz", gzip.compress),
    ("train.jsonl.bz2", bz2.compress),
    ("train.jsonl.xz", lzma.compress),
])  # fmt: skip
def test_compressed_json_lines_read_like_plain_ones(tmp_path, name, compress):
    path = tmp_path / name
    path.write_bytes(compress(JSONL.encode()))
    assert records(path) == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_compressed_json_list_and_csv(tmp_path):
    (tmp_path / "list.json.gz").write_bytes(gzip.compress(json.dumps(RECORDS, indent=1).encode()))
    assert [obj for _, obj in records(tmp_path / "list.json.gz")] == RECORDS
    (tmp_path / "rows.csv.gz").write_bytes(gzip.compress(b"instruction,output\nSay hi.,hi\n"))
    assert records(tmp_path / "rows.csv.gz") == [(2, {"instruction": "Say hi.", "output": "hi"})]


def test_gzip_streams_in_chunks(tmp_path, monkeypatch):
    """A multi-byte character split across chunks, and many chunks: same records."""
    monkeypatch.setattr(streams, "CHUNK", 5)
    path = tmp_path / "small_chunks.jsonl.gz"
    path.write_bytes(gzip.compress(JSONL.encode()))
    assert records(path) == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_zstd_through_pyarrow_when_zstandard_is_absent(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    path = tmp_path / "train.jsonl.zst"
    with pa.CompressedOutputStream(str(path), "zstd") as out:
        out.write(JSONL.encode())
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard fails
    assert records(path) == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_zstd_through_zstandard(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "train.jsonl.zst"
    # Two frames, as pzstd and `cat a.zst b.zst` write: both are read.
    lines = JSONL.splitlines(keepends=True)
    compressor = zstandard.ZstdCompressor()
    path.write_bytes(b"".join(compressor.compress(line.encode()) for line in lines))
    assert records(path) == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_zstd_without_a_decompressor_names_the_package(tmp_path, monkeypatch):
    path = tmp_path / "train.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert str(error_of(path)) == (
        f"{path}: reading .zst files needs the zstandard package: pip install zstandard"
    )


def test_broken_gzip_is_one_error(tmp_path):
    (tmp_path / "not.jsonl.gz").write_bytes(JSONL.encode())
    assert "cannot read .gz: Not a gzipped file" in str(error_of(tmp_path / "not.jsonl.gz"))
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(JSONL.encode())[:-12])
    error = error_of(tmp_path / "cut.jsonl.gz")
    assert str(error).startswith(f"{tmp_path / 'cut.jsonl.gz'}: cannot read .gz: ")


def test_folder_reads_compressed_files_among_plain_ones(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(RECORDS[0]) + "\n")
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(JSONL.encode()))
    (folder / "c.json.gz.crc").write_bytes(b"\0\1")  # a checksum beside a shard: not data
    rows = list(raw_records(folder))
    assert [(where.removeprefix(str(folder)), line) for where, line, _ in rows] == [
        ("/a.jsonl", 1),
        ("/b.jsonl.gz", 1),
        ("/b.jsonl.gz", 2),
    ]


# --- encodings ---------------------------------------------------------------------------


def test_utf8_byte_order_mark_keeps_the_first_record(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + JSONL.encode())
    assert records(path) == [(1, RECORDS[0]), (2, RECORDS[1])]
    assert len(read_examples(path)) == 2


def test_utf8_byte_order_mark_in_a_csv_header(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"instruction,output\r\nSay hi.,hi\r\n")
    assert records(path) == [(2, {"instruction": "Say hi.", "output": "hi"})]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark(tmp_path, encoding):
    path = tmp_path / "windows.jsonl"
    bom = {"utf-16-be": codecs.BOM_UTF16_BE, "utf-32-be": codecs.BOM_UTF32_BE}.get(encoding, b"")
    path.write_bytes(bom + JSONL.encode(encoding))  # "utf-16"/"utf-32" write their own mark
    assert records(path) == [(1, RECORDS[0]), (2, RECORDS[1])]


def test_latin1_byte_is_one_error_with_line_byte_and_offset(tmp_path):
    path = tmp_path / "latin1.jsonl"
    first = (json.dumps(RECORDS[0]) + "\n").encode()
    path.write_bytes(first + '{"text": "caf\xe9"}\n'.encode("latin-1") + first)
    offset = len(first) + len('{"text": "caf')
    assert str(error_of(path)) == f"{path}:2: not UTF-8 text: byte 0xe9 at offset {offset}"


def test_binary_file_is_one_error(tmp_path):
    path = tmp_path / "photo.jsonl"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert str(error_of(path)) == f"{path}:1: not UTF-8 text: byte 0xff at offset 0"


def test_nul_bytes_are_binary_even_when_valid_utf8(tmp_path):
    path = tmp_path / "archive.jsonl"
    path.write_bytes(b"PK\x03\x04\x14\x00\x08\x00")
    assert str(error_of(path)) == (
        f"{path}:1: not UTF-8 text: byte 0x00 at offset 5 "
        "(binary data, or UTF-16 without a byte-order mark)"
    )


def test_offset_is_exact_across_chunks(tmp_path, monkeypatch):
    path = tmp_path / "late.jsonl"
    good = ("é" * 10 + "\n").encode() * 3  # 21 bytes a line, 2 bytes a character
    path.write_bytes(good + b"ab\xffcd")
    for chunk in (1, 2, 3, 7, 1 << 20):
        monkeypatch.setattr(streams, "CHUNK", chunk)
        assert str(error_of(path)) == f"{path}:4: not UTF-8 text: byte 0xff at offset 65"


def test_file_ending_inside_a_character(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b'{"text": "caf\xc3')
    assert str(error_of(path)) == f"{path}:1: not UTF-8 text: byte 0xc3 at offset 13"


def test_bad_bytes_in_a_compressed_file_count_decompressed_offsets(tmp_path):
    path = tmp_path / "latin1.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "caf\xe9"}\n'))
    assert str(error_of(path)) == (
        f"{path}:1: not UTF-8 text: byte 0xe9 at offset 13 of the decompressed data"
    )


# --- files without records ---------------------------------------------------------------


@pytest.mark.parametrize("name, content, message", [
    ("empty.jsonl", b"", "empty file: no records"),
    ("blank.jsonl", b"\n  \n\t\n", "empty file: no records"),
    ("bom_only.jsonl", codecs.BOM_UTF8 + b"\n", "empty file: no records"),
    ("empty.json", b"  \n", "empty file: no records"),
    ("empty_list.json", b"[\n]\n", "empty JSON list: no records"),
    ("empty.csv", b"", "empty file: no records"),
    ("header.csv", b"instruction,output\n", "only a header row: no records"),
])  # fmt: skip
def test_file_without_records_is_one_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert str(error_of(path)) == f"{path}: {message}"
    with pytest.raises(DataError, match=message):
        read_examples(path)


def test_folder_skips_empty_shards_but_not_an_all_empty_folder(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "part-0.jsonl").write_text("")
    (folder / "part-1.jsonl").write_text(JSONL)
    assert len(list(raw_records(folder))) == 2
    (folder / "part-1.jsonl").write_text("\n")
    assert str(error_of(folder)) == f"{folder}: folder holds no records: its 2 data files are empty"


def test_not_parquet_is_one_error(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "table.parquet"
    path.write_text("instruction,output\nSay hi.,hi\n")
    assert str(error_of(path)).startswith(f"{path}: cannot read as Parquet: ")


def test_csv_row_the_csv_module_refuses_is_one_error_at_its_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("text\nfine\n" + "x" * 200_000 + "\n")
    assert str(error_of(path)) == (
        f"{path}:3: cannot read this CSV row: field larger than field limit (131072)"
    )
