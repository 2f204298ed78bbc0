"""string_check: each operation on hand-picked pairs."""

from __future__ import annotations

import pytest

from tuneforge.graders import grade


def check(operation: str, output: str, reference: str) -> float:
    grader = {"type": "string_check", "name": "c", "input": "{{sample.output_text}}",
              "reference": "{{item.ref}}", "operation": operation}  # fmt: skip
    result = grade(grader, output, {"ref": reference})
    assert result.error_kind is None
    return result.reward


@pytest.mark.parametrize(
    ("operation", "output", "reference", "expected"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "Paris", "paris", 0.0),
        ("ne", "Paris", "paris", 1.0),
        ("ne", "Paris", "Paris", 0.0),
        ("like", "The answer is Paris.", "Paris", 1.0),
        ("like", "The answer is paris.", "Paris", 0.0),
        ("ilike", "THE ANSWER IS PARIS.", "Paris", 1.0),
        ("ilike", "London", "Paris", 0.0),
    ],
)
def test_operations(operation, output, reference, expected):
    assert check(operation, output, reference) == expected


def test_missing_reference_field_scores_zero_with_the_flag():
    grader = {"type": "string_check", "name": "c", "input": "{{sample.output_text}}",
              "reference": "{{item.ref}}", "operation": "eq"}  # fmt: skip
    result = grade(grader, "x", {})
    assert result.reward == 0.0 and result.error_kind == "invalid_variable_error"
    assert "item.ref" in result.error_message
