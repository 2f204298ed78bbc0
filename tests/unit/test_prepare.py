"""`data prepare` end to end in-process: a small file with one of each planted problem,
checked against report.json and the files written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.helpers import TINY, WORDS, sentence, write_jsonl
from tuneforge.config.prepare import PrepareConfig, QualityConfig
from tuneforge.data.minhash import normalise
from tuneforge.data.prepare import prepare
from tuneforge.data.records import (
    ChatExample,
    FeedbackExample,
    PreferenceExample,
    TextExample,
    parse_record,
)
from tuneforge.data.serialise import prompt_text
from tuneforge.errors import ConfigError, TuneForgeError

SPLITS = ("train", "validation", "test")
EVAL_PASSAGE = (
    "the quiet river runs under the stone bridge near the old green tree while a small dog sings"
)


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def planted_records() -> tuple[list, dict[str, int]]:
    """30 clean Alpaca and OpenAI records, then one record per planted problem; also the
    line number of each planted record."""
    rng = random.Random(5)
    records: list = []
    for i in range(30):
        prompt, reply = sentence(rng, 4, 10), sentence(rng, 5, 14)
        if i % 2:
            records.append({"instruction": prompt, "output": reply})
        else:
            records.append(
                {
                    "messages": [
                        {"role": "user", "content": prompt},
                        {"role": "assistant", "content": reply},
                    ]
                }
            )
    long_text = words(rng, 150)
    one_word_changed = long_text.split()
    one_word_changed[70] = "zebra"
    planted = {
        "malformed": '{"instruction": "A broken line", "output": ',
        "missing_field": {"messages": [{"role": "user"}, {"role": "assistant", "content": "Ok."}]},
        "original": {
            "instruction": "Tell me about the river.",
            "output": "The river runs far under the dark stone.",
        },
        "exact_copy": {
            "instruction": "TELL me  about the RIVER.",
            "output": "the river runs far   under the dark STONE.",
        },
        "long": {"instruction": "Describe it at length.", "output": long_text},
        "near_copy": {
            "instruction": "Describe it at length please.",
            "output": " ".join(one_word_changed),
        },
        "pii": {
            "instruction": "How do I reach you?",
            "output": "Write to jane.doe@fastmail.fm or call +1 555-123-4567.",
        },
        "looping": {
            "instruction": "Say something.",
            "output": ("the cat sat on the mat " * 10).strip(),
        },
        "blocklisted": {
            "instruction": "Name a monster.",
            "output": "The Zorgon sings near a tree.",
        },
        "too_long": {"instruction": "Write a long story.", "output": words(rng, 400)},
        "contaminated": {"instruction": "Recite the passage.", "output": f"Sure: {EVAL_PASSAGE}."},
        "untidy": {"instruction": "Tidy\u200b this.", "output": "Done.  \r\nAll tidy."},
    }
    lines = {}
    for name, record in planted.items():
        records.append(record)
        lines[name] = len(records)
    return records, lines


RECORDS, LINES = planted_records()


def config(tmp: Path, **changes) -> PrepareConfig:
    settings = {
        "model": TINY,
        "num_proc": 1,
        "split": (0.8, 0.1, 0.1),
        "seed": 3,
        "quality": QualityConfig(blocklist=["zorgon"]),
        "lengths": {"assistant": {"min": 1}, "total": {"max": 300}},
        "decontaminate": [str(write_jsonl(tmp / "eval.jsonl", [{"answer": EVAL_PASSAGE}]))],
    }
    return PrepareConfig(**{**settings, **changes})


def read_split(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]


def written(out: Path) -> dict[str, list[dict]]:
    return {name: read_split(out, name) for name in SPLITS}


def steps(report: dict) -> dict[str, dict]:
    return {step["step"]: step for step in report["steps"]}


def user_text(record: dict) -> str:
    return next(m["content"] for m in record["messages"] if m["role"] == "user")


def where_split(out: Path, prompt: str) -> list[str]:
    """The split of every written record whose user message is `prompt`."""
    return [
        name for name, records in written(out).items() for r in records if user_text(r) == prompt
    ]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prepare")
    source = write_jsonl(tmp / "in.jsonl", RECORDS)
    progress: list[int] = []
    result = prepare(str(source), tmp / "out", config(tmp), progress=progress.append)
    return tmp, result, progress


def test_each_planted_problem_is_removed_by_its_step(planted):
    _, result, _ = planted
    by_step = steps(result.report)
    assert by_step["parse"]["reasons"] == {
        "malformed JSON: Expecting value": 1,
        "messages[].content: missing": 1,
    }
    assert by_step["quality"]["reasons"] == {"repetitive reply": 1, "blocklisted": 1}
    assert by_step["decontaminate"]["reasons"] == {"shares a 13-gram with an evaluation file": 1}
    assert by_step["length"]["reasons"] == {"total over 300 tokens": 1}
    assert by_step["dedup"]["reasons"] == {"exact duplicate": 1, "near duplicate": 1}
    assert by_step["normalise"]["removed"] == by_step["pii"]["removed"] == 0
    for name, step in by_step.items():
        assert step["removed"] == sum(step["reasons"].values()), name


def test_removal_samples_name_the_planted_lines(planted):
    _, result, _ = planted
    by_step = steps(result.report)

    def lines_of(step: str) -> set[int]:
        return {int(s["where"].rpartition(":")[2]) for s in by_step[step]["samples"]}

    assert lines_of("parse") == {LINES["malformed"], LINES["missing_field"]}
    assert lines_of("quality") == {LINES["looping"], LINES["blocklisted"]}
    assert lines_of("decontaminate") == {LINES["contaminated"]}
    assert lines_of("length") == {LINES["too_long"]}
    # (samples are clipped to 400 characters, so the long pair is matched by its prompt)
    dedup = [(s["dropped"], s["kept"]) for s in by_step["dedup"]["samples"]]
    pairs = [("exact_copy", "original"), ("near_copy", "long")]
    assert len(dedup) == len(pairs)
    for (dropped, kept), (copy, first) in zip(dedup, pairs, strict=True):
        assert json.dumps(RECORDS[LINES[copy] - 1]["instruction"]) in dropped
        assert json.dumps(RECORDS[LINES[first] - 1]["instruction"]) in kept


def test_malformed_line_sample_names_the_column_where_it_breaks(planted):
    _, result, _ = planted
    sample = steps(result.report)["parse"]["samples"][0]
    assert sample["where"].endswith(f":{LINES['malformed']}")
    assert sample["record"] == "malformed JSON: Expecting value (column 44)"


def test_personal_data_is_redacted(planted):
    tmp, result, _ = planted
    by_step = steps(result.report)
    assert by_step["pii"]["changed"] == 1
    assert result.report["pii_found"] == {"EMAIL": 1, "PHONE": 1}
    replies = [
        r["messages"][-1]["content"]
        for records in written(tmp / "out").values()
        for r in records
        if user_text(r) == "How do I reach you?"
    ]
    assert replies == ["Write to <EMAIL> or call <PHONE>."]
    for name in SPLITS:
        assert "jane.doe" not in (tmp / "out" / f"{name}.jsonl").read_text()


def test_untidy_text_is_normalised(planted):
    tmp, result, _ = planted
    assert steps(result.report)["normalise"]["changed"] == 1
    tidy = [
        r["messages"]
        for records in written(tmp / "out").values()
        for r in records
        if user_text(r).startswith("Tidy")
    ]
    assert tidy == [
        [
            {"role": "user", "content": "Tidy this."},
            {"role": "assistant", "content": "Done.\nAll tidy."},
        ]
    ]


def test_counts_add_up(planted):
    tmp, result, progress = planted
    report = result.report
    lines = {name: len(records) for name, records in written(tmp / "out").items()}
    removed = sum(step["removed"] for step in report["steps"])
    assert report["records_read"] == len(RECORDS) == sum(progress)
    assert removed == 8
    assert report["records_written"] == sum(lines.values()) == len(RECORDS) - removed
    assert report["splits"] == lines == result.counts
    assert report["formats"] == {"alpaca": 25, "openai": 15}  # the unparseable two are not counted


def test_output_files_exist_and_parse_back(planted):
    tmp, result, _ = planted
    out = tmp / "out"
    assert result.out_dir == out and result.kind == "sft" and result.report["kind"] == "sft"
    for name in ("report.json", "report.md", "report.html", "lengths.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "report.json").read_text()) == result.report
    assert not (tmp / "out.partial").exists()
    for name in SPLITS:
        lines = (out / f"{name}.jsonl").read_text().splitlines()
        assert lines, name
        for number, line in enumerate(lines, start=1):
            assert isinstance(parse_record(json.loads(line), name, number), ChatExample)


def test_duplicates_keep_their_first_copy(planted):
    tmp, _, _ = planted
    out = tmp / "out"
    assert len(where_split(out, "Tell me about the river.")) == 1
    assert where_split(out, "TELL me  about the RIVER.") == []
    assert len(where_split(out, "Describe it at length.")) == 1
    assert where_split(out, "Describe it at length please.") == []


def test_no_prompt_lands_in_two_splits(planted):
    tmp, result, _ = planted
    assert result.report["leakage"] == {
        "records_sharing_text_prompt_or_minhash_band_across_splits": 0
    }
    prompts = {
        name: {normalise(prompt_text(parse_record(r, name, 0))) for r in records}
        for name, records in written(tmp / "out").items()
    }
    assert sum(len(p) for p in prompts.values()) == result.report["records_written"]
    assert not prompts["train"] & prompts["validation"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["validation"] & prompts["test"]


def test_pii_drop_removes_the_record(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    result = prepare(str(source), tmp_path / "out", config(tmp_path, pii="drop"))
    pii = steps(result.report)["pii"]
    assert pii["removed"] == 1 and pii["changed"] == 0
    assert pii["reasons"] == {"contains EMAIL, PHONE": 1}
    assert pii["samples"][0]["where"].endswith(f":{LINES['pii']}")
    assert where_split(tmp_path / "out", "How do I reach you?") == []
    assert result.report["records_written"] == len(RECORDS) - 9


def test_dedup_off_keeps_duplicates_in_one_split(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    result = prepare(str(source), tmp_path / "out", config(tmp_path, dedup="off"))
    assert steps(result.report)["dedup"]["removed"] == 0
    assert result.report["records_written"] == len(RECORDS) - 6
    out = tmp_path / "out"
    river = where_split(out, "Tell me about the river.") + where_split(
        out, "TELL me  about the RIVER."
    )
    assert len(river) == 2 and river[0] == river[1]
    long = where_split(out, "Describe it at length.") + where_split(
        out, "Describe it at length please."
    )
    assert len(long) == 2 and long[0] == long[1]
    assert result.report["leakage"] == {
        "records_sharing_text_prompt_or_minhash_band_across_splits": 0
    }


def preference_records(n: int = 12) -> list[dict]:
    """Replies long enough that, as KTO records, prompt + chosen and prompt + rejected
    (which share the prompt) are not near-duplicates of each other."""
    rng = random.Random(8)
    return [
        {
            "prompt": f"Question {i}: {sentence(rng, 3, 5)}",
            "chosen": sentence(rng, 30, 40),
            "rejected": sentence(rng, 30, 40),
        }
        for i in range(n)
    ]


def test_preference_input_writes_pairs(tmp_path):
    pairs = preference_records()
    source = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    result = prepare(str(source), tmp_path / "out", config(tmp_path))
    assert result.kind == result.report["kind"] == "preference"
    records = [r for rs in written(tmp_path / "out").values() for r in rs]
    assert len(records) == result.report["records_written"] == len(pairs)
    by_prompt = {pair["prompt"]: pair for pair in pairs}
    for record in records:
        assert set(record) == {"prompt", "chosen", "rejected"}
        example = parse_record(record, "out", 0)
        assert isinstance(example, PreferenceExample)
        pair = by_prompt[example.prompt[0].content]
        assert example.chosen[0].content == pair["chosen"]
        assert example.rejected[0].content == pair["rejected"]


def test_text_input_keeps_its_text_field(tmp_path):
    rng = random.Random(9)
    texts = [f"Note {i}. {sentence(rng, 6, 12)}" for i in range(10)]
    source = write_jsonl(tmp_path / "text.jsonl", [{"text": t} for t in texts])
    result = prepare(str(source), tmp_path / "out", config(tmp_path))
    assert result.kind == "sft"
    records = [r for rs in written(tmp_path / "out").values() for r in rs]
    assert all(set(r) == {"text"} for r in records)
    assert sorted(r["text"] for r in records) == sorted(texts)
    assert all(isinstance(parse_record(r, "out", 0), TextExample) for r in records)


def test_kto_kind_writes_two_labelled_records_per_pair(tmp_path):
    pairs = preference_records()
    source = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    result = prepare(str(source), tmp_path / "out", config(tmp_path, kind="kto"))
    assert result.kind == result.report["kind"] == "kto"
    assert result.report["records_read"] == len(pairs)
    assert result.report["records_written"] == 2 * len(pairs)
    seen: dict[str, dict[bool, tuple[str, str]]] = {}
    for name, records in written(tmp_path / "out").items():
        for record in records:
            assert set(record) == {"prompt", "completion", "label"}
            example = parse_record(record, name, 0)
            assert isinstance(example, FeedbackExample)
            labels = seen.setdefault(example.prompt[0].content, {})
            labels[example.desirable] = (example.completion[0].content, name)
    assert len(seen) == len(pairs)
    for pair in pairs:
        (good, good_split), (bad, bad_split) = (
            seen[pair["prompt"]][True],
            seen[pair["prompt"]][False],
        )
        assert (good, bad) == (pair["chosen"], pair["rejected"])
        assert good_split == bad_split  # one prompt, one split


def test_workers_and_chunks_do_not_change_the_output(planted, tmp_path):
    tmp, result, _ = planted
    cfg = config(tmp, num_proc=2, chunk_size=5)
    parallel = prepare(str(tmp / "in.jsonl"), tmp_path / "out", cfg)  # same path: same samples
    for name in SPLITS:
        assert (tmp_path / "out" / f"{name}.jsonl").read_bytes() == (
            tmp / "out" / f"{name}.jsonl"
        ).read_bytes(), name
    assert parallel.report["steps"] == result.report["steps"]


def test_non_empty_out_dir_needs_overwrite(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    with pytest.raises(TuneForgeError, match="not empty"):
        prepare(str(source), out, config(tmp_path))
    assert (out / "old.txt").read_text() == "keep me"
    assert not (tmp_path / "out.partial").exists()

    prepare(str(source), out, config(tmp_path), overwrite=True)
    assert not (out / "old.txt").exists()
    assert (out / "train.jsonl").stat().st_size > 0


def test_empty_out_dir_is_used_without_overwrite(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    (tmp_path / "out").mkdir()
    result = prepare(str(source), tmp_path / "out", config(tmp_path))
    assert (tmp_path / "out" / "train.jsonl").read_text().count("\n") == result.counts["train"]


def test_unknown_format_fails_before_writing_anything(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    with pytest.raises(ConfigError, match="format"):
        prepare(str(source), tmp_path / "out", config(tmp_path, format="alpacca"))
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.partial").exists()


def test_failure_mid_run_leaves_no_partial_output(tmp_path, monkeypatch):
    from tuneforge.data.prepare import report

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_reports", broken)
    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    with pytest.raises(RuntimeError, match="disk full"):
        prepare(str(source), tmp_path / "out", config(tmp_path))
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.partial").exists()


def test_failed_overwrite_keeps_the_previous_output(tmp_path, monkeypatch):
    from tuneforge.data.prepare import pipeline

    source = write_jsonl(tmp_path / "in.jsonl", RECORDS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous run")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_pass_two", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(str(source), out, config(tmp_path), overwrite=True)
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert not (tmp_path / "out.partial").exists()
