"""multi graders: the formula over sub-grader rewards, and the formulas it refuses."""

from __future__ import annotations

import math

import pytest

from tuneforge.graders import GraderSpecError, grade, parse_grader
from tuneforge.graders.multi import FormulaError, evaluate_formula, parse_formula

NAMES = {"a", "b"}


def value(formula: str, a: float = 0.5, b: float = 0.25) -> float:
    return evaluate_formula(parse_formula(formula, NAMES), {"a": a, "b": b})


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("0.7 * a + 0.3 * b", 0.7 * 0.5 + 0.3 * 0.25),
        ("(a + b) / 2", 0.375),
        ("-a + 1", 0.5),
        ("a ** 2", 0.25),
        ("2 * a ^ 2", 0.5),  # OpenAI's ^ is a power, binding tighter than *
        ("min(a, b) + max(a, b)", 0.75),
        ("abs(b - a)", 0.25),
        ("floor(a * 3) + ceil(b)", 2.0),
        ("sqrt(b) + exp(0) + log(1)", 1.5),
    ],
)
def test_formulas(formula, expected):
    assert value(formula) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("formula", "why"),
    [
        ("__import__('os').system('true')", "functions"),
        ("a.__class__", "Attribute"),
        ("(lambda: 1)()", "functions"),
        ("lambda: 1", "Lambda"),
        ("[a][0]", "Subscript"),
        ("a if b else 1", "IfExp"),
        ("a < b", "Compare"),
        ("c + a", "unknown name 'c'"),
        ("min + 1", "a function"),
        ("'x'", "only numbers"),
        ("max(*[a])", "positional"),
        ("a +", "not a formula"),
        ("a" + "+a" * 600, "longer than"),
    ],
)
def test_unsafe_or_invalid_formulas_are_refused(formula, why):
    with pytest.raises(FormulaError, match=why):
        parse_formula(formula, NAMES)


def test_math_errors_and_huge_powers_do_not_escape():
    with pytest.raises(ValueError, match="division by zero"):
        value("a / (b - b)")
    with pytest.raises(ValueError, match="calculate_output"):
        value("10 ** 10 ** 10")  # floats: an OverflowError, not a computation without end
    with pytest.raises(ValueError):
        value("log(b - b)")


def grader(formula: str) -> dict:
    check = {"type": "string_check", "name": "c", "input": "{{sample.output_text}}",
             "reference": "{{item.answer}}", "operation": "ilike"}  # fmt: skip
    fuzzy = {"type": "text_similarity", "name": "f", "input": "{{sample.output_text}}",
             "reference": "{{item.answer}}", "evaluation_metric": "fuzzy_match"}  # fmt: skip
    return {"type": "multi", "name": "m", "graders": {"found": check, "close": fuzzy},
            "calculate_output": formula}  # fmt: skip


def test_multi_grade_reports_sub_rewards():
    # fuzzy("paris!", "Paris"): LCS "aris" (4), distance 6 + 5 - 8 = 3 -> 1 - 3/11 = 8/11
    result = grade(grader("0.5 * found + 0.5 * close"), "paris!", {"answer": "Paris"})
    assert result.sub_rewards == {"found": 1.0, "close": pytest.approx(8 / 11)}
    assert result.reward == pytest.approx(0.5 + 0.5 * 8 / 11)
    assert result.error_kind is None


def test_formula_failing_on_a_sample_is_other_error():
    result = grade(grader("found / (close - close)"), "paris", {"answer": "Paris"})
    assert result.reward == 0.0 and result.error_kind == "other_error"
    assert "division by zero" in result.error_message


def test_unsafe_formula_is_refused_at_validation():
    with pytest.raises(GraderSpecError) as caught:
        parse_grader(grader("__import__('os').getcwd()"))
    assert caught.value.param == "calculate_output"
    assert not math.isnan(value("a"))
