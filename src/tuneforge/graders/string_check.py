"""`string_check` graders: 1.0 when the comparison holds, else 0.0 (OpenAI's semantics:
eq and ne compare exactly; like is "input contains reference", ilike the same ignoring
case)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuneforge.graders.outcome import Outcome
from tuneforge.graders.templates import render

OPERATIONS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda text, reference: text == reference,
    "ne": lambda text, reference: text != reference,
    "like": lambda text, reference: reference in text,
    # casefold rather than lower: "Straße" ilike "STRASSE" holds, as a person expects
    "ilike": lambda text, reference: reference.casefold() in text.casefold(),
}


def grade_string_check(grader: Any, sample: dict[str, Any], item: dict[str, Any]) -> Outcome:
    text = render(grader.input, sample, item)
    reference = render(grader.reference, sample, item)
    return Outcome(1.0 if OPERATIONS[grader.operation](text, reference) else 0.0)
