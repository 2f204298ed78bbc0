"""JSON, CSV, Parquet and folders are read record by record, each numbered by the line
(or row) a person would open."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import write_jsonl
from tuneforge.data.readers import raw_records, read_examples
from tuneforge.data.records import ChatExample, FeedbackExample
from tuneforge.errors import DataError


def turns(example: ChatExample) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in example.messages]


def chat(question: str, answer: str) -> dict:
    return {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


# --- JSON --------------------------------------------------------------------------------


def test_json_list_reports_the_line_each_record_starts_on(tmp_path):
    records = [chat("q1", "a1"), {"text": "plain"}, chat("q3", "a3")]
    path = tmp_path / "list.json"
    path.write_text(json.dumps(records, indent=2))
    # indent=2: "[" is line 1; each chat record spans 12 lines, the text record 3.
    assert [(line, obj) for _, line, obj in raw_records(path)] == [
        (2, records[0]),
        (14, records[1]),
        (17, records[2]),
    ]
    lines = path.read_text().splitlines()
    assert [lines[n - 1].strip() for n in (2, 14, 17)] == ["{", "{", "{"]


def test_json_file_holding_one_object(tmp_path):
    path = tmp_path / "one.json"
    path.write_text("\n\n" + json.dumps(chat("q", "a"), indent=2))
    assert [(line, obj) for _, line, obj in raw_records(path)] == [(3, chat("q", "a"))]
    (example,) = read_examples(path)
    assert turns(example) == [("user", "q"), ("assistant", "a")]


def test_json_file_holding_json_lines(tmp_path):
    path = write_jsonl(tmp_path / "lines.json", [chat("q1", "a1"), {"text": "t"}, chat("q3", "a3")])
    assert [line for _, line, _ in raw_records(path)] == [1, 2, 3]
    examples = read_examples(path)
    assert [type(e).__name__ for e in examples] == ["ChatExample", "TextExample", "ChatExample"]


def test_truncated_json_list_raises_with_a_line(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[\n  {"text": "one"},\n  {"text": "two"},\n  {"text": "thr')  # cut mid-write
    records = raw_records(path)
    assert next(records)[1:] == (2, {"text": "one"})
    assert next(records)[1:] == (3, {"text": "two"})
    with pytest.raises(DataError) as info:
        next(records)
    assert info.value.path == str(path)
    assert info.value.line == 4
    assert "malformed JSON" in str(info.value)


def test_json_list_missing_a_comma_raises_with_the_line(tmp_path):
    path = tmp_path / "comma.json"
    path.write_text('[\n  {"text": "one"}\n  {"text": "two"}\n]\n')
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert info.value.line == 3
    assert "expected ',' or ']'" in str(info.value)


def test_content_after_the_json_list_is_not_silently_dropped(tmp_path):
    path = tmp_path / "two_lists.json"
    path.write_text('[{"text": "a"}]\n[{"text": "b"}]\n')
    with pytest.raises(DataError):
        list(raw_records(path))


# --- CSV ---------------------------------------------------------------------------------


def test_csv_alpaca_columns(tmp_path):
    path = tmp_path / "alpaca.csv"
    path.write_text(
        "instruction,input,output\nTranslate to French.,good morning,bonjour\nSay hi.,,hi\n"
    )
    assert [(line, obj) for _, line, obj in raw_records(path)] == [
        (2, {"instruction": "Translate to French.", "input": "good morning", "output": "bonjour"}),
        (3, {"instruction": "Say hi.", "input": "", "output": "hi"}),
    ]
    examples = read_examples(path)
    assert [turns(e) for e in examples] == [
        [("user", "Translate to French.\n\ngood morning"), ("assistant", "bonjour")],
        [("user", "Say hi."), ("assistant", "hi")],
    ]


def test_csv_messages_column_is_decoded_json(tmp_path):
    messages = chat("2+2?", "4")["messages"]
    cell = json.dumps(messages).replace('"', '""')
    path = tmp_path / "chat.csv"
    path.write_text(f'messages\n"{cell}"\n')
    ((_, line, obj),) = raw_records(path)
    assert (line, obj) == (2, {"messages": messages})
    (example,) = read_examples(path)
    assert turns(example) == [("user", "2+2?"), ("assistant", "4")]


def test_csv_label_column_is_decoded_to_bool(tmp_path):
    path = tmp_path / "kto.csv"
    path.write_text("prompt,completion,label\n2+2?,4,true\n2+2?,5,false\n")
    assert [obj["label"] for _, _, obj in raw_records(path)] == [True, False]
    examples = read_examples(path, kind="kto")
    assert all(isinstance(e, FeedbackExample) for e in examples)
    assert [(e.completion[0].content, e.desirable) for e in examples] == [
        ("4", True),
        ("5", False),
    ]


def test_csv_row_with_more_cells_than_columns_names_its_line(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("text\nfine\ntoo,many\nfine again\n")
    rows = list(raw_records(path))
    assert [line for _, line, _ in rows] == [2, 3, 4]
    assert rows[0][2] == {"text": "fine"} and rows[2][2] == {"text": "fine again"}
    error = rows[1][2]
    assert isinstance(error, DataError)
    assert (error.path, error.line) == (str(path), 3)
    assert "more cells than columns" in str(error)
    with pytest.raises(DataError) as info:
        read_examples(path)
    assert info.value.line == 3


def test_csv_multi_line_cell_does_not_shift_the_next_line_number(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('instruction,output\n"Write a poem.","Roses\nare\nred"\nSay hi.,hi\n')
    rows = list(raw_records(path))
    assert [(line, obj["output"]) for _, line, obj in rows] == [
        (2, "Roses\nare\nred"),
        (5, "hi"),
    ]
    assert path.read_text().splitlines()[4] == "Say hi.,hi"


def test_csv_blank_line_does_not_shift_the_next_line_number(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("text\nfirst\n\nsecond\n")
    assert [line for _, line, _ in raw_records(path)] == [2, 4]


def test_csv_text_cells_that_look_like_json_stay_text(tmp_path):
    path = tmp_path / "alpaca.csv"
    path.write_text(
        'instruction,output\nSort 3 1 2.,"[1, 2, 3]"\nIs 7 prime? Say true or false.,true\n'
    )
    examples = read_examples(path)
    assert [e.messages[-1].content for e in examples] == ["[1, 2, 3]", "true"]


# --- Parquet -----------------------------------------------------------------------------


def test_parquet_with_a_list_of_struct_messages_column(tmp_path):
    records = [chat("q1", "a1"), chat("q2", "a2"), chat("q3", "a3")]
    table = pa.Table.from_pylist(records)
    assert pa.types.is_list(table.schema.field("messages").type)
    assert pa.types.is_struct(table.schema.field("messages").type.value_type)
    path = tmp_path / "chat.parquet"
    pq.write_table(table, path)
    assert [(line, obj) for _, line, obj in raw_records(path)] == [
        (1, records[0]),
        (2, records[1]),
        (3, records[2]),
    ]
    examples = read_examples(path)
    assert [turns(e) for e in examples] == [
        [("user", f"q{i}"), ("assistant", f"a{i}")] for i in (1, 2, 3)
    ]


def test_parquet_messages_with_optional_keys(tmp_path):
    record = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "draft", "weight": 0},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "final"},
        ]
    }
    path = tmp_path / "weights.parquet"
    pq.write_table(pa.Table.from_pylist([record]), path)
    (example,) = read_examples(path)
    assert [m.content for m in example.messages if m.trained] == ["final"]


# --- folders and missing paths -----------------------------------------------------------


def test_folder_reads_its_data_files_in_sorted_order(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "b.csv").write_text("instruction,output\nfrom csv,yes\n")
    write_jsonl(folder / "a.jsonl", [chat("from jsonl 1", "one"), chat("from jsonl 2", "two")])
    (folder / "notes.txt").write_text("not a record\n")
    rows = list(raw_records(folder))
    assert [(where, line) for where, line, _ in rows] == [
        (str(folder / "a.jsonl"), 1),
        (str(folder / "a.jsonl"), 2),
        (str(folder / "b.csv"), 2),
    ]
    examples = read_examples(folder)
    assert [e.messages[0].content for e in examples] == ["from jsonl 1", "from jsonl 2", "from csv"]


def test_empty_folder_raises(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.txt").write_text("nothing here\n")
    with pytest.raises(DataError) as info:
        list(raw_records(folder))
    assert info.value.path == str(folder)
    assert "folder holds no" in str(info.value)


def test_missing_file_says_file_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for missing in (str(tmp_path / "nope.jsonl"), "data/train.jsonl"):
        with pytest.raises(DataError) as info:
            read_examples(missing)
        assert str(info.value) == f"{missing}: file not found"
