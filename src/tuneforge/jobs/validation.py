"""Check an uploaded training file for a job's method, the way OpenAI's file validation
does, before a worker spends a GPU on it.

`tuneforge.data.validate.validate_file` does the work: every problem with its line and
field, and the counts of OpenAI's chat format checks (data/openai_checks.py). This adds
only what OpenAI's fine-tuning guide checks and it does not: the minimum number of
examples, examples longer than the context, the exact shape of OpenAI's DPO records
(`input.messages`, and one assistant message in each of `preferred_output` and
`non_preferred_output`), and the chat checks applied to those DPO records and to
reinforcement prompts, which the data layer converts instead of judging.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from tuneforge.data.openai_checks import CHECKS, openai_checks
from tuneforge.data.readers import raw_records
from tuneforge.data.validate import Problem, validate_file
from tuneforge.errors import DataError
from tuneforge.jobs.hyperparameters import JobSpecError

MIN_EXAMPLES = 10  # OpenAI refuses a training file with fewer
DEFAULT_MAX_LENGTH = 1024  # DataConfig.max_length: the length checks need some bound

KIND_OF_METHOD: dict[str, str] = {
    "supervised": "sft",
    "dpo": "preference",
    "orpo": "preference",
    "simpo": "preference",
    "kto": "kto",
    "reinforcement": "prompts",
}
"""Job method type -> the data kind its records are read as (data/kinds.py)."""

DPO_CHECKS = ("invalid_input", "invalid_preferred_output", "invalid_non_preferred_output")
FILE_CHECKS = ("too_few_examples", "examples_over_context")
PROMPT_CHECKS = ("last_message_not_user",)
# The data layer names a pair's parts by its canonical form; a DPO job's records are in
# OpenAI's shape, so problems name the fields the user wrote.
DPO_FIELDS = {
    "prompt": "input.messages",
    "chosen": "preferred_output",
    "rejected": "non_preferred_output",
}
# A prompt has no assistant turn by design: the model writes it.
NOT_FOR_PROMPTS = {"example_missing_assistant_message"}


@dataclass
class FileCheck:
    """What validating one uploaded file found."""

    filename: str
    """The name the user uploaded the file as: problems name it, never our blob path."""
    n_examples: int = 0
    """Records that passed every check: what training would learn from."""
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """Records failing each check, under OpenAI's check names (too_few_examples is 1 or 0,
    a check of the whole file)."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def first_problem(self) -> str:
        """The first error (else the first warning) as one line, e.g.
        `file train.jsonl line 3 field messages[0].role: unknown role 'robot'`; empty when
        there is none."""
        problem = next(iter(self.errors or self.problems), None)
        if problem is None:
            return ""
        where = [f"file {self.filename}"]
        if problem.line is not None:
            where.append(f"line {problem.line}")
        if problem.field:
            where.append(f"field {problem.field}")
        return f"{' '.join(where)}: {problem.message}"

    def summary(self) -> str:
        """The example count and the count of every check, for an event message."""
        counts = ", ".join(f"{name} {count}" for name, count in self.counts.items())
        errors, warnings = len(self.errors), len(self.problems) - len(self.errors)
        return (
            f"{self.filename}: {self.n_examples} valid examples, {errors} errors, "
            f"{warnings} warnings; {counts}"
        )


def validate_training_file(
    path: Path,
    filename: str,
    method_type: str,
    tokenizer=None,
    max_length: int | None = None,
    min_examples: int = MIN_EXAMPLES,
) -> FileCheck:
    """Every problem of the file as training data of a job of `method_type` (supervised,
    dpo, reinforcement, or TuneForge's orpo, simpo, kto). With a tokenizer the chat
    template is applied, and with max_length too, examples longer than it are counted."""
    if method_type not in KIND_OF_METHOD:
        raise JobSpecError(
            f"unknown method type {method_type!r}; expected one of {sorted(KIND_OF_METHOD)}",
            "method.type",
        )
    kind = KIND_OF_METHOD[method_type]
    check = FileCheck(filename, counts=dict.fromkeys(_check_names(method_type), 0))
    try:
        report = validate_file(
            path, tokenizer, max_length or DEFAULT_MAX_LENGTH, kind=kind, format="auto"
        )
    except DataError as exc:  # not a data file at all (empty, not text)
        check.problems.append(Problem(str(path), exc.line, exc.field, exc.detail))
        _count_too_few(check, min_examples)
        return check
    for name, count in report.openai_checks.items():
        if name in check.counts:
            check.counts[name] = count
    check.problems = list(report.problems)
    check.n_examples = report.valid
    if method_type in ("dpo", "reinforcement"):
        _check_openai_shapes(check, path, method_type)
    if tokenizer is not None and max_length is not None:
        check.counts["examples_over_context"] = _over_context(report.problems, max_length)
    # Each record's problems in line order; problems of the whole file after them.
    check.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    _count_too_few(check, min_examples)
    return check


def _check_names(method_type: str) -> list[str]:
    chat = [
        name for name in CHECKS if method_type != "reinforcement" or name not in NOT_FOR_PROMPTS
    ]
    extra = {"dpo": DPO_CHECKS, "reinforcement": PROMPT_CHECKS}.get(method_type, ())
    return [*chat, *extra, *FILE_CHECKS]


def _count_too_few(check: FileCheck, min_examples: int) -> None:
    if check.n_examples >= min_examples:
        return
    check.counts["too_few_examples"] = 1
    message = f"{check.n_examples} valid examples; a fine-tuning job needs at least {min_examples}"
    check.problems.append(Problem(check.filename, None, None, message))


def _check_openai_shapes(check: FileCheck, path: Path, method_type: str) -> None:
    """OpenAI's record shape for DPO and reinforcement files, counted per record, with the
    chat checks applied to the conversations inside: validate_file counts no chat check
    for these records, since the data layer converts them rather than judging them."""
    if method_type == "dpo":
        check.problems = [_openai_field(p) for p in check.problems]
    refused = {p.line for p in check.problems if p.severity == "error"}
    reported = {(p.line, p.field) for p in check.problems}
    shape = _dpo_shape if method_type == "dpo" else _prompt_shape
    for where, line, obj in raw_records(path):
        if isinstance(obj, DataError):
            continue  # not JSON: validate_file has reported it
        failed, problems = shape(obj)
        for name in failed & set(check.counts):
            check.counts[name] += 1
        new = [Problem(where, line, f, m) for f, m in problems if (line, f) not in reported]
        check.problems += new
        if new and line not in refused:
            check.n_examples -= 1
            refused.add(line)


def _dpo_shape(obj: Any) -> tuple[set[str], list[tuple[str, str]]]:
    """(checks failed, (field, message) problems) of one record of a DPO file."""
    if not isinstance(obj, dict):
        return set(), []  # validate_file counted it (data_type)
    failed: set[str] = set()
    problems: list[tuple[str, str]] = []
    source = obj.get("input")
    prompt = source.get("messages") if isinstance(source, dict) else None
    if not isinstance(prompt, list) or not prompt:
        failed.add("invalid_input")
        problems.append(("input.messages", 'expected input: {"messages": [...]}, not empty'))
        prompt = None
    for key in ("preferred_output", "non_preferred_output"):
        reply = obj.get(key)
        if not _one_assistant_message(reply):
            failed.add(f"invalid_{key}")
            problems.append((key, "expected a list of exactly one assistant message"))
        elif prompt is not None:
            failed |= openai_checks({"messages": [*prompt, *reply]})
    return failed, problems


def _prompt_shape(obj: Any) -> tuple[set[str], list[tuple[str, str]]]:
    """Checks failed by one record of a reinforcement file: `messages` ending in a user
    (or tool) turn, the model writing the next; the other keys are item fields for the
    grader, never errors. validate_file has reported each problem with its line."""
    failed = openai_checks(obj) - NOT_FOR_PROMPTS
    messages = obj.get("messages") if isinstance(obj, dict) else None
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and last.get("role") not in ("user", "tool"):
        failed.add("last_message_not_user")
    return failed, []


def _openai_field(problem: Problem) -> Problem:
    head, dot, rest = (problem.field or "").partition(".")
    name, bracket, index = head.partition("[")
    if name not in DPO_FIELDS:
        return problem
    renamed = DPO_FIELDS[name] + bracket + index + dot + rest
    return dataclasses.replace(problem, field=renamed)


def _one_assistant_message(reply: Any) -> TypeGuard[list[dict[str, Any]]]:
    return (
        isinstance(reply, list)
        and len(reply) == 1
        and isinstance(reply[0], dict)
        and reply[0].get("role") == "assistant"
    )


def _over_context(problems: list[Problem], max_length: int) -> int:
    """Records with a sequence past max_length: validate_file reports each one cut or
    left with nothing to learn as a problem naming `max_length=<N>`."""
    marker = f"max_length={max_length}"
    return len({(p.where, p.line) for p in problems if marker in p.message})
