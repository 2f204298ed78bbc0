"""`tuneforge data validate`: every problem in a training file, with file, line and field.

Unlike training, which stops at the first bad record, validation reads the whole file and
reports all of them; with a tokenizer it also checks what the chat template and
max_length will do to each example.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuneforge.config.prepare import QualityConfig
from tuneforge.data.clean import QualityFilter
from tuneforge.data.kinds import KINDS, examples_of, sequence_views
from tuneforge.data.openai_checks import CHECKS, openai_checks
from tuneforge.data.read import record_place
from tuneforge.data.readers import raw_records
from tuneforge.data.records import (
    CHAT_RECORD_KEYS,
    ChatExample,
    Example,
    PreferenceExample,
    unknown_record_keys,
)
from tuneforge.data.serialise import prompt_and_reply
from tuneforge.data.templating import IGNORE, tokenize_aligned
from tuneforge.data.tools import template_tool_support, uses_tools
from tuneforge.errors import DataError

HISTOGRAM_EDGES = (64, 128, 256, 512, 1024, 2048, 4096)


@dataclass
class Problem:
    where: str
    line: int | None
    field: str | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        location = f"{self.where}:{self.line}" if self.line is not None else self.where
        return (
            f"{location}: {self.field}: {self.message}"
            if self.field
            else f"{location}: {self.message}"
        )


def summarised(problems: list[Problem], repeats: int = 5) -> list[Problem]:
    """The problems to show a person: one that `repeats` or more records share (a file of
    bare strings, a file of prompts validated for SFT) becomes one line with the count and
    the first lines, in place of its first occurrence."""

    def key(p: Problem) -> tuple:
        # By file, not by `where`: records of a one-line JSON list each have their own.
        return record_place(p.where, p.line)[0], p.field, p.message, p.severity

    groups: dict[tuple, list[Problem]] = {}
    for problem in problems:
        groups.setdefault(key(problem), []).append(problem)
    shown = []
    for problem in problems:
        group = groups[key(problem)]
        if len(group) < repeats:
            shown.append(problem)
        elif problem is group[0]:
            listed = listed_records([(p.where, p.line) for p in group])
            counted = f"{problem.message} ({len(group)} records{listed and ': '}{listed})"
            file = key(problem)[0]
            shown.append(Problem(file, None, problem.field, counted, problem.severity))
    return shown


def listed_records(records: list[tuple[str, int | None]], shown: int = 5) -> str:
    """The first `shown` of (where, line) records as a person finds them: "lines 2, 23,
    44", "records 1, 2, 3, 4, 5, ..." in a JSON list written on one line, "line 7" for
    one; empty when none can be named."""
    places = [place[1:] for w, line in records if (place := record_place(w, line))[1]]
    units = {unit for unit, _ in places}
    if len(units) == 1:
        prefix = f"{units.pop()}{'s' if len(places) > 1 else ''} "
        names = [str(n) for _, n in places]
    else:  # a folder of JSON Lines and one-line lists
        prefix, names = "", [f"{unit} {n}" for unit, n in places]
    return prefix + ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


@dataclass
class ValidationReport:
    path: str
    records: int = 0
    valid: int = 0
    problems: list[Problem] = field(default_factory=list)
    token_histogram: dict[str, int] = field(default_factory=dict)
    tokens_per_epoch: int | None = None
    trained_tokens_per_epoch: int | None = None
    openai_checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    """Records failing each of OpenAI's format checks (data/openai_checks.py)."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "errors": len(self.errors), "ok": not self.errors}


def validate_file(
    path: str | Path,
    tokenizer=None,
    max_length: int = 1024,
    kind: str = "sft",
    tool_format: str = "template",
    format: str = "auto",
) -> ValidationReport:
    """Every problem in the file as training data of `kind` (data.kinds.KINDS; a
    method's declaration names its kind). The reply of each example also goes through
    the quality heuristics `data prepare` applies (as warnings: prepare would drop it)."""
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r}; expected one of {KINDS}")
    report = ValidationReport(str(path))
    quality = QualityFilter(QualityConfig())
    examples: list[tuple[str, int, Example]] = []
    first_of_id: dict[Any, str] = {}
    for where, line, obj in raw_records(path, format):
        report.records += 1
        if isinstance(obj, DataError):
            report.problems.append(Problem(where, line, None, obj.detail))
            continue
        if kind != "prompts":
            for check in openai_checks(obj):
                report.openai_checks[check] += 1
        # A prompt record's other keys are columns for the reward function, not typos.
        columns_allowed = kind == "prompts"
        found = _record_problems(obj, where, line, first_of_id, columns_allowed)
        converted: list = []
        try:
            converted = examples_of(obj, kind, where, line, format)
            for example in converted:
                found += _pair_problems(example, where, line)
                if kind != "prompts":
                    found += _example_warnings(example, quality, where, line)
        except DataError as exc:
            found.append(Problem(where, line, exc.field, exc.detail))
        report.problems += found
        if not any(p.severity == "error" for p in found):
            examples += [(where, line, example) for example in converted]
            report.valid += 1
    if tokenizer is not None and examples and kind != "prompts":
        if tool_format == "template":
            examples = _renderable(report, examples, tokenizer)
        if examples:
            _check_tokens(report, examples, tokenizer, max_length, tool_format)
    return report


def _example_warnings(example: Example, quality: QualityFilter, where: str, line: int):
    """What would not stop training but is probably not what the user meant."""
    problems = []
    if isinstance(example, ChatExample) and not any(m.role == "user" for m in example.messages):
        message = "no user message: the replies answer nothing but the system prompt"
        problems.append(Problem(where, line, "messages", message, "warning"))
    prompt, reply = prompt_and_reply(example)
    reason = reply is not None and quality.reason_to_drop(reply, prompt)
    if reason:
        problems.append(Problem(where, line, None, f"{reason}: data prepare drops it", "warning"))
    return problems


def _renderable(report: ValidationReport, examples, tokenizer) -> list:
    """The examples the chat template can render; one error for all that carry tools or
    calls the template would drop (training refuses them: data/tools.py)."""
    renders_tools, renders_calls = template_tool_support(tokenizer)
    if renders_tools and renders_calls:
        return examples
    refused = [(where, line) for where, line, example in examples if _uses_tools(example)]
    if not refused:
        return examples
    file, listed = record_place(*refused[0])[0], listed_records(refused)
    report.problems.append(Problem(
        file, None, "tools",
        f"{len(refused)} records ({listed}) carry tools or tool calls, but this chat "
        "template does not render them: training would refuse them; use a model whose "
        "template supports tools, or --tool-format json to write them into the text",
    ))  # fmt: skip
    report.valid -= len({(where, line) for where, line in refused})
    return [entry for entry in examples if not _uses_tools(entry[2])]


def _uses_tools(example: Example) -> bool:
    return any(uses_tools(view) for view in sequence_views(example))


def _record_problems(
    obj: Any, where: str, line: int, first_of_id: dict, columns_allowed: bool = False
) -> list[Problem]:
    """Checks beyond what parsing enforces: unknown keys, turn order, tool results, ids."""
    if not isinstance(obj, dict):
        return []  # parse_record reports it
    problems = []
    if (record_id := obj.get("id")) is not None:
        key = repr(record_id)
        if key in first_of_id:
            first = first_of_id[key]
            message = f"duplicate id {record_id!r} (first on {first})"
            problems.append(Problem(where, line, "id", message))
        first_of_id.setdefault(key, listed_records([(where, line)]))
    if "messages" not in obj:
        return problems
    for key in [] if columns_allowed else unknown_record_keys(obj):
        # A warning, as in OpenAI's checks (records.py states the rule prepare and train share).
        message = (
            "unknown key, not used in training and left out by data prepare; "
            f"expected {sorted(CHAT_RECORD_KEYS)}"
        )
        problems.append(Problem(where, line, key, message, "warning"))
    messages = obj["messages"] if isinstance(obj["messages"], list) else []
    return problems + _turn_problems([m for m in messages if isinstance(m, dict)], where, line)


def _pair_problems(example: Example, where: str, line: int) -> list[Problem]:
    if not isinstance(example, PreferenceExample) or example.prompt[-1].role in ("user", "tool"):
        return []
    last = example.prompt[-1].role
    return [Problem(where, line, "prompt", f"ends with a {last} turn, not a user turn", "warning")]


def _turn_problems(messages: list[dict], where: str, line: int) -> list[Problem]:
    problems = []
    pending_calls: dict[str, int] = {}
    previous = None
    for i, message in enumerate(messages):
        role, at = message.get("role"), f"messages[{i}]"
        content = message.get("content")
        if isinstance(content, str) and not content.strip():
            problems.append(Problem(where, line, f"{at}.content", "empty"))
        if role == "system" and previous not in (None, "system"):
            problems.append(
                Problem(where, line, f"{at}.role", "system message after the conversation started")
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if previous not in ("assistant", "tool") or (call_id and call_id not in pending_calls):
                problems.append(
                    Problem(where, line, at, "tool result without a matching tool call")
                )
            pending_calls.pop(call_id, None)
        elif role == previous and role in ("user", "assistant"):
            problems.append(
                Problem(where, line, f"{at}.role", f"two {role} messages in a row", "warning")
            )
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict):
                pending_calls[str(call.get("id"))] = i
        previous = role
    for call_id, i in pending_calls.items():
        problems.append(
            Problem(
                where, line, f"messages[{i}].tool_calls", f"tool call {call_id} has no tool result"
            )
        )
    return problems


def _check_tokens(
    report: ValidationReport, examples, tokenizer, max_length: int, tool_format: str
) -> None:
    """Token lengths under the chat template, truncation, and the end-of-turn token."""
    # Tokenize without a length cap so truncation effects can be reported per example;
    # a pair is checked as the two sequences the model sees (prompt + each reply).
    views = [
        (where, line, label, view)
        for where, line, ex in examples
        for label, view in zip(_view_labels(ex), sequence_views(ex), strict=True)
    ]
    # Counted past max_length (to report truncation and the histogram's top bucket), but
    # bounded: a 50 MB record must not be tokenized whole to learn that it is too long.
    # Aligned: a view whose first trained token lies beyond the cap comes back as None,
    # and is reported on its own line like any other record too long to train on.
    cap = max(max_length, HISTOGRAM_EDGES[-1]) + 1
    tokenized, _ = tokenize_aligned(
        [v for *_, v in views], tokenizer, max_length=cap, tool_format=tool_format
    )
    lengths, trained = [], 0
    for (where, line, label, example), tokens in zip(views, tokenized, strict=True):
        if tokens is None:
            message = (
                f"too long: over {cap - 1:,} tokens come before its first trained token, "
                f"so every trained token lies beyond max_length={max_length}"
            )
            report.problems.append(Problem(where, line, label, message))
            lengths.append(cap)  # the histogram's top bucket; training would drop it
            continue
        found = []
        kept_targets = tokens.targets[: max_length - 1]
        if not any(t != IGNORE for t in kept_targets):
            found.append((f"every trained token lies beyond max_length={max_length}", "error"))
        elif len(tokens.input_ids) > max_length:
            cut = f"{len(tokens.input_ids)} tokens, truncated to max_length={max_length}"
            found.append((cut, "warning"))
        if isinstance(example, ChatExample) and tokenizer.eos_token_id not in tokens.targets:
            found.append(
                ("no end-of-turn token after the answer: it never learns to stop", "warning")
            )
        report.problems += [Problem(where, line, label, text, level) for text, level in found]
        lengths.append(len(tokens.input_ids))
        trained += sum(t != IGNORE for t in kept_targets)
    report.tokens_per_epoch = sum(min(n, max_length) for n in lengths)
    report.trained_tokens_per_epoch = trained
    report.token_histogram = _histogram(lengths)


def _view_labels(example: Example) -> tuple[str | None, ...]:
    return (
        ("prompt + chosen", "prompt + rejected")
        if isinstance(example, PreferenceExample)
        else (None,)
    )


def _histogram(lengths: list[int]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for n in lengths:
        upper = next((edge for edge in HISTOGRAM_EDGES if n <= edge), None)
        counts[f"<={upper}" if upper else f">{HISTOGRAM_EDGES[-1]}"] += 1
    order = [f"<={e}" for e in HISTOGRAM_EDGES] + [f">{HISTOGRAM_EDGES[-1]}"]
    return {bucket: counts[bucket] for bucket in order if counts[bucket]}
