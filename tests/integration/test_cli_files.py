"""`tuneforge data validate` and `data prepare` on the files users actually have:
compressed, with byte-order marks, plain text, OpenAssistant trees, minified JSON, and
files that are empty, binary or hold nothing usable: read, or refused in one line."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import pytest

from tests.helpers import TINY, chat_records
from tuneforge.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path, monkeypatch, tokenizer):  # tokenizer: the tiny model is cached
    monkeypatch.chdir(tmp_path)
    return tmp_path


def jsonl(records: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def prepare(capsys, source: str, *extra: str) -> tuple[int, str, str]:
    code = main(["data", "prepare", source, "-o", "out", "--model", TINY, "--num-proc", "1",
                 "--split", "0.8,0.1,0.1", *extra])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def validate(capsys, source: str, *extra: str) -> tuple[int, str, str]:
    code = main(["data", "validate", source, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def report() -> dict:
    return json.loads(Path("out/report.json").read_text())


def refused(code: int, err: str, message: str) -> None:
    """Exit 1, one error line, no traceback, no output folder."""
    assert code == 1
    assert err == f"error: {message}\n"
    assert not Path("out").exists() and not Path("out.partial").exists()


@pytest.mark.parametrize("content, message", [
    (b"", "empty file: no records"),
    (b" \n\n", "empty file: no records"),
    (b'{"text": "caf\xe9"}', "not UTF-8 text: byte 0xe9 at offset 13"),  # Latin-1
    (b"\x89PNG\r\n\x1a\n", "not UTF-8 text: byte 0x89 at offset 0"),
])  # fmt: skip
def test_empty_or_binary_files_are_one_error_in_validate_and_prepare(
    workdir, capsys, content, message
):
    Path("in.jsonl").write_bytes(content)
    line = ":1" if "offset" in message else ""
    code, out, err = validate(capsys, "in.jsonl")
    assert (code, err) == (1, f"error: in.jsonl{line}: {message}\n")
    code, out, err = prepare(capsys, "in.jsonl")
    refused(code, err, f"in.jsonl{line}: {message}")


def test_utf8_byte_order_mark_keeps_every_record(workdir, capsys):
    Path("in.jsonl").write_bytes(codecs.BOM_UTF8 + jsonl(chat_records(10, seed=1)).encode())
    code, out, err = validate(capsys, "in.jsonl")
    assert code == 0, out + err
    assert "in.jsonl: 10 records, 10 valid, 0 errors" in out
    code, out, err = prepare(capsys, "in.jsonl")
    assert code == 0, err
    assert report()["records_read"] == 10
    assert sum(step["removed"] for step in report()["steps"] if step["step"] == "parse") == 0


def test_gzip_json_lines_prepare(workdir, capsys):
    Path("in.jsonl.gz").write_bytes(gzip.compress(jsonl(chat_records(10, seed=2)).encode()))
    code, out, err = prepare(capsys, "in.jsonl.gz")
    assert code == 0, err
    assert "10 records read" in out


def test_plain_text_is_refused_without_format_text_and_read_with_it(workdir, capsys):
    speeches = [f"Speaker {i}:\nWords of speech number {i} go here." for i in range(8)]
    Path("play.txt").write_text("\n\n".join(speeches) + "\n")
    hint = "play.txt: plain text: pass --format text to train on it as continued pretraining"
    code, _, err = prepare(capsys, "play.txt")
    refused(code, err, hint)
    assert validate(capsys, "play.txt")[2] == f"error: {hint}\n"
    code, out, err = prepare(capsys, "play.txt", "--format", "text")
    assert code == 0, err
    assert report()["formats"] == {"text": 8} and report()["records_written"] == 8
    written = [json.loads(line) for name in ("train", "validation", "test")
               for line in Path(f"out/{name}.jsonl").read_text().splitlines()]  # fmt: skip
    assert sorted(r["text"] for r in written) == sorted(speeches)


def oasst_tree(i: int) -> dict:
    def node(role, text, rank=None, replies=()):
        return {"message_id": text, "role": role, "text": text, "rank": rank,
                "replies": list(replies)}  # fmt: skip

    return {"message_tree_id": f"t{i}", "prompt": node("prompter", f"Question {i}: why?", None, [
        node("assistant", f"A careful answer to question {i}.", 0),
        node("assistant", f"A sloppy reply to number {i}.", 1),
    ])}  # fmt: skip


def test_openassistant_trees(workdir, capsys):
    Path("oasst.trees.jsonl").write_text(jsonl([oasst_tree(i) for i in range(10)]))
    code, out, err = validate(capsys, "oasst.trees.jsonl", "--method", "dpo")
    assert code == 0, out + err
    assert "completion" not in out
    code, out, err = prepare(capsys, "oasst.trees.jsonl")
    assert code == 0, err
    assert (report()["kind"], report()["formats"]) == ("sft", {"oasst_tree": 10})
    code, out, err = prepare(capsys, "oasst.trees.jsonl", "--kind", "preference", "--overwrite")
    assert code == 0, err
    assert report()["kind"] == "preference" and report()["records_written"] == 10


def test_minified_json_list_names_bad_records_by_index(workdir, capsys):
    records = [*chat_records(2), {"messages": [{"role": "user", "content": "q"}]}]
    Path("data.json").write_text(json.dumps(records))
    code, out, err = validate(capsys, "data.json")
    assert code == 1
    assert "data.json: record 3 (line 1): messages: no assistant message to learn from" in out


def test_when_no_record_survives_prepare_names_the_file_and_the_top_reasons(workdir, capsys):
    bad = [
        *['{"messages": [' for _ in range(3)],
        *[{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(2)],
        {"instruction": "Say hi."},
    ]
    Path("in.jsonl").write_text("".join((b if isinstance(b, str) else json.dumps(b)) + "\n"
                                        for b in bad))  # fmt: skip
    expected = (
        "in.jsonl: no record survived (6 read); most common reasons: "
        "parse: malformed JSON: Expecting value (3); "
        "parse: messages: no assistant message to learn from (2); "
        "parse: unrecognised record with keys ['instruction'] (1)"
    )
    for kind in ("auto", "sft"):
        code, _, err = prepare(capsys, "in.jsonl", "--kind", kind)
        refused(code, err, expected)
