"""Plain text is continued-pretraining data when asked for (`--format text`) and a
one-line hint otherwise; a JSON list written on one line names records by index."""

from __future__ import annotations

import gzip
import json

import pytest

from tuneforge.data.readers import PLAIN_TEXT_HINT, raw_records, read_examples
from tuneforge.data.records import TextExample
from tuneforge.errors import DataError

PROSE = "First Citizen:\nBefore we proceed.\n\nAll:\nSpeak, speak.\n\n\nFirst Citizen:\nYou are.\n"
CORPUS = "Anarchism is a political philosophy.\nAutism is a disorder.\nAlbedo is a measure.\n"


def texts(path, **kwargs) -> list[tuple[int, str]]:
    return [(line, obj["text"]) for _, line, obj in raw_records(path, "text", **kwargs)]


def test_blank_lines_separate_documents(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(PROSE)
    assert texts(path) == [
        (1, "First Citizen:\nBefore we proceed."),
        (4, "All:\nSpeak, speak."),
        (8, "First Citizen:\nYou are."),
    ]


def test_a_file_without_blank_lines_is_one_document_per_line(tmp_path):
    path = tmp_path / "wiki.txt"
    path.write_text("\n" + CORPUS + "\n\n")  # blank lines at the ends separate nothing
    assert texts(path) == [
        (2, "Anarchism is a political philosophy."),
        (3, "Autism is a disorder."),
        (4, "Albedo is a measure."),
    ]


def test_windows_line_ends_and_markdown_and_gzip(tmp_path):
    (tmp_path / "notes.md").write_bytes(b"# Title\r\nBody.\r\n\r\nMore.\r\n")
    assert texts(tmp_path / "notes.md") == [(1, "# Title\r\nBody."), (4, "More.")]
    (tmp_path / "play.txt.gz").write_bytes(gzip.compress(PROSE.encode()))
    assert len(texts(tmp_path / "play.txt.gz")) == 3


def test_text_records_become_text_examples(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(PROSE)
    examples = read_examples(path, kind="sft", format="text")
    assert examples == [
        TextExample("First Citizen:\nBefore we proceed."),
        TextExample("All:\nSpeak, speak."),
        TextExample("First Citizen:\nYou are."),
    ]


@pytest.mark.parametrize("name", ["notes.txt", "README.md", "corpus.txt.gz"])
def test_plain_text_without_format_text_is_refused_with_the_hint(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(PROSE.encode()) if name.endswith(".gz") else PROSE.encode())
    with pytest.raises(DataError) as info:
        list(raw_records(path))
    assert str(info.value) == f"{path}: {PLAIN_TEXT_HINT}"
    assert "malformed JSON" not in str(info.value)


def test_empty_text_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n \n")
    with pytest.raises(DataError, match="empty file: no records"):
        list(raw_records(path, "text"))


def test_folder_reads_text_files_only_under_format_text(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(CORPUS)
    (folder / "b.jsonl").write_text(json.dumps({"text": "from jsonl"}) + "\n")
    assert [obj["text"] for _, _, obj in raw_records(folder)] == ["from jsonl"]
    assert len(list(raw_records(folder, "text"))) == 4


# --- a JSON list on one line -------------------------------------------------------------

GOOD = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def test_minified_list_names_records_by_index(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([GOOD, GOOD, {"messages": [{"role": "user"}]}]))
    rows = list(raw_records(path))
    assert [(where, line) for where, line, _ in rows] == [
        (f"{path}: record 1 (line 1)", None),
        (f"{path}: record 2 (line 1)", None),
        (f"{path}: record 3 (line 1)", None),
    ]
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert str(info.value) == f"{path}: record 3 (line 1): messages[0].content: missing"


def test_minified_list_with_a_syntax_error_names_the_record_and_column(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[{"text": "a"}, {"text": "b"} {"text": "c"}]\n')
    records = raw_records(path)
    assert [next(records)[2], next(records)[2]] == [{"text": "a"}, {"text": "b"}]
    with pytest.raises(DataError) as info:
        next(records)
    assert info.value.index == 2
    assert str(info.value) == (
        f"{path}: record 2 (line 1): malformed JSON: expected ',' or ']' after the record"
    )
    path.write_text('[{"text": "a"}, {"text": "b", }]')
    with pytest.raises(DataError) as info:
        list(raw_records(path))
    assert str(info.value).startswith(f"{path}: record 2 (line 1): malformed JSON: ")
    assert "(column 31)" in str(info.value)  # the "}" after the comma


def test_pretty_printed_list_keeps_line_numbers(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([GOOD, {"messages": [{"role": "user"}]}], indent=1))
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert str(info.value) == f"{path}:14: messages[0].content: missing"
    assert info.value.index is None


def test_index_survives_pickling():
    import pickle

    error = DataError("data.json", 1, "text", "empty", index=7)
    assert str(pickle.loads(pickle.dumps(error))) == "data.json: record 7 (line 1): text: empty"
