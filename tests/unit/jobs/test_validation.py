"""Validating an uploaded file for a job: each planted fault gives exactly its OpenAI
count, and the first problem names the user's filename, the line and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneforge.jobs.hyperparameters import JobSpecError
from tuneforge.jobs.validation import validate_training_file

FILENAME = "my-train.jsonl"  # what the user uploaded; the blob on disk is named otherwise
FAULT_LINE = 5


def user(text: str = "What colour is the sky?") -> dict:
    return {"role": "user", "content": text}


def assistant(text: str = "Blue, on a clear day.") -> dict:
    return {"role": "assistant", "content": text}


def chat(i: int) -> dict:
    return {"messages": [user(f"Question number {i}?"), assistant(f"Answer number {i}.")]}


def dpo(i: int) -> dict:
    return {
        "input": {"messages": [user(f"Question number {i}?")]},
        "preferred_output": [assistant(f"A helpful answer number {i}.")],
        "non_preferred_output": [assistant(f"A curt reply {i}.")],
    }


def prompt(i: int) -> dict:
    return {"messages": [user(f"What is {i} plus {i}?")], "reference_answer": str(2 * i)}


def write(tmp_path: Path, records: list) -> Path:
    path = tmp_path / "file-abc123"  # a blob name without a suffix, as the store keeps it
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def with_fault(make, fault, n: int = 12) -> list:
    records = [make(i) for i in range(n)]
    records.insert(FAULT_LINE - 1, fault)
    return records


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in counts.items() if count}


SUPERVISED_FAULTS = [
    ("a bare string", {"data_type": 1}, None),
    ({"question": "no messages"}, {"missing_messages_list": 1}, None),
    (
        {"messages": [{"role": "user"}, assistant()]},
        {"message_missing_key": 1, "missing_content": 1},  # OpenAI counts both
        "messages[0].content",
    ),
    (
        {"messages": [{**user(), "colour": "red"}, assistant()]},
        {"message_unrecognized_key": 1},
        "messages[0].colour",
    ),
    (
        {"messages": [user(), {"role": "robot", "content": "beep"}, assistant()]},
        {"unrecognized_role": 1},
        "messages[1].role",
    ),
    ({"messages": [user(""), assistant()]}, {"missing_content": 1}, "messages[0].content"),
    ({"messages": [user()]}, {"example_missing_assistant_message": 1}, "messages"),
]


@pytest.mark.parametrize(("fault", "counts", "field"), SUPERVISED_FAULTS)
def test_each_supervised_fault_is_counted_once_at_its_line(tmp_path, fault, counts, field):
    check = validate_training_file(write(tmp_path, with_fault(chat, fault)), FILENAME, "supervised")
    assert nonzero(check.counts) == counts
    assert not check.ok
    assert check.n_examples == 12
    where = f"file {FILENAME} line {FAULT_LINE}" + (f" field {field}" if field else "")
    assert check.first_problem().startswith(where + ": ")


def test_a_missing_user_message_is_counted_but_trains(tmp_path):
    fault = {"messages": [{"role": "system", "content": "Be brief."}, assistant()]}
    check = validate_training_file(write(tmp_path, with_fault(chat, fault)), FILENAME, "supervised")
    assert nonzero(check.counts) == {"example_missing_user_message": 1}
    assert check.ok  # a warning: OpenAI counts it, training can still learn the reply
    assert check.first_problem().startswith(f"file {FILENAME} line {FAULT_LINE} field messages:")


def test_a_clean_file_passes(tmp_path):
    check = validate_training_file(
        write(tmp_path, [chat(i) for i in range(12)]), FILENAME, "supervised"
    )
    assert check.ok and check.n_examples == 12
    assert nonzero(check.counts) == {}
    assert check.first_problem() == ""
    assert check.summary().startswith(f"{FILENAME}: 12 valid examples, 0 errors")
    assert "data_type 0" in check.summary() and "too_few_examples 0" in check.summary()


def test_too_few_examples(tmp_path):
    check = validate_training_file(
        write(tmp_path, [chat(i) for i in range(9)]), FILENAME, "supervised"
    )
    assert not check.ok
    assert nonzero(check.counts) == {"too_few_examples": 1}
    assert check.first_problem() == (
        f"file {FILENAME}: 9 valid examples; a fine-tuning job needs at least 10"
    )


def test_an_empty_file_is_one_problem(tmp_path):
    path = tmp_path / "file-empty"
    path.write_text("")
    check = validate_training_file(path, FILENAME, "supervised")
    assert not check.ok and check.n_examples == 0
    assert check.first_problem().startswith(f"file {FILENAME}: empty file")


def test_examples_over_the_context_are_counted(tmp_path, tokenizer):
    records = [chat(i) for i in range(12)]
    records[2] = {"messages": [user(), assistant("very long answer " * 60)]}
    path = write(tmp_path, records)
    check = validate_training_file(path, FILENAME, "supervised", tokenizer, max_length=64)
    assert check.counts["examples_over_context"] == 1
    assert check.first_problem().startswith(f"file {FILENAME} line 3: ")
    # Without a length (or a tokenizer) nothing is measured, so nothing is counted.
    assert (
        validate_training_file(path, FILENAME, "supervised", tokenizer).counts[
            "examples_over_context"
        ]
        == 0
    )


DPO_FAULTS = [
    ("a bare string", {"data_type": 1}, None),
    (
        {"preferred_output": [assistant()], "non_preferred_output": [assistant("No.")]},
        {"invalid_input": 1},
        "input.messages",
    ),
    (
        {**dpo(0), "preferred_output": [assistant(), assistant("And more.")]},
        {"invalid_preferred_output": 1},
        "preferred_output",
    ),
    (
        {**dpo(0), "non_preferred_output": [user("Not a reply.")]},
        {"invalid_non_preferred_output": 1},
        "non_preferred_output",
    ),
    (
        {**dpo(0), "input": {"messages": [{"role": "robot", "content": "beep"}, user()]}},
        {"unrecognized_role": 1},
        "input.messages[0].role",
    ),
]


@pytest.mark.parametrize(("fault", "counts", "field"), DPO_FAULTS)
def test_dpo_records_must_have_openais_shape(tmp_path, fault, counts, field):
    check = validate_training_file(write(tmp_path, with_fault(dpo, fault)), FILENAME, "dpo")
    assert nonzero(check.counts) == counts
    assert not check.ok
    assert check.n_examples == 12
    where = f"file {FILENAME} line {FAULT_LINE}" + (f" field {field}" if field else "")
    assert check.first_problem().startswith(where)


def test_a_clean_dpo_file_passes(tmp_path):
    check = validate_training_file(write(tmp_path, [dpo(i) for i in range(12)]), FILENAME, "dpo")
    assert check.ok and check.n_examples == 12 and nonzero(check.counts) == {}


def test_other_pair_formats_pass_for_orpo_but_chat_records_do_not(tmp_path):
    pairs = [{"prompt": f"Q{i}?", "chosen": "Good.", "rejected": "Bad."} for i in range(12)]
    assert validate_training_file(write(tmp_path, pairs), FILENAME, "orpo").ok
    check = validate_training_file(write(tmp_path, [chat(i) for i in range(12)]), FILENAME, "simpo")
    assert not check.ok and "preference" in check.first_problem()


def test_kto_reads_labelled_replies(tmp_path):
    records = [{**chat(i), "label": i % 2 == 0} for i in range(12)]
    check = validate_training_file(write(tmp_path, records), FILENAME, "kto")
    assert check.ok and check.n_examples == 12


def test_reinforcement_prompts_keep_their_grader_fields(tmp_path):
    check = validate_training_file(
        write(tmp_path, [prompt(i) for i in range(12)]), FILENAME, "reinforcement"
    )
    assert check.ok and check.n_examples == 12 and nonzero(check.counts) == {}
    assert "example_missing_assistant_message" not in check.counts  # prompts have none


@pytest.mark.parametrize(
    ("fault", "counts", "field"),
    [
        (
            {"messages": [user(), assistant()], "reference_answer": "4"},
            {"last_message_not_user": 1},
            "messages[1].role",
        ),
        ({"question": "2 + 2?"}, {"missing_messages_list": 1}, None),
        ("a bare string", {"data_type": 1}, None),
    ],
)
def test_reinforcement_faults(tmp_path, fault, counts, field):
    path = write(tmp_path, with_fault(prompt, fault))
    check = validate_training_file(path, FILENAME, "reinforcement")
    assert nonzero(check.counts) == counts
    assert not check.ok
    where = f"file {FILENAME} line {FAULT_LINE}" + (f" field {field}" if field else "")
    assert check.first_problem().startswith(where)


def test_an_unknown_method_is_refused(tmp_path):
    with pytest.raises(JobSpecError) as caught:
        validate_training_file(write(tmp_path, [chat(0)]), FILENAME, "ppo")
    assert caught.value.param == "method.type"
