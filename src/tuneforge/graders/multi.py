"""`multi` graders: sub-graders by name, combined by the `calculate_output` formula.

The formula is user input, so it is never eval()'d: it is parsed with `ast` and walked
over a whitelist (numbers, the sub-graders' names, + - * / ** and OpenAI's ^ for power,
parentheses, unary signs, and min max abs floor ceil exp sqrt log). Anything else
(attributes, subscripts, lambdas, other calls, comparisons) is refused when the grader
is validated, before any sample is graded.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from tuneforge.graders.outcome import GraderFailure, Outcome, add_usage

FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min, "max": max, "abs": abs, "floor": math.floor, "ceil": math.ceil,
    "exp": math.exp, "sqrt": math.sqrt, "log": math.log,
}  # fmt: skip
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
MAX_FORMULA_CHARS = 1000


class FormulaError(ValueError):
    pass


def parse_formula(text: str, names: set[str]) -> ast.Expression:
    """The checked syntax tree of `text`, or FormulaError naming what is not allowed."""
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"longer than {MAX_FORMULA_CHARS} characters")
    # OpenAI writes powers as ^; in Python's grammar ^ is xor, with the wrong precedence,
    # so it is rewritten before parsing rather than mapped afterwards.
    try:
        tree = ast.parse(text.replace("^", "**").strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a formula ({exc.msg} at column {exc.offset})") from None
    try:
        _check(tree.body, names)
    except RecursionError:
        raise FormulaError("nested too deeply") from None
    return tree


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, names)
        _check(node.right, names)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, names)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float) or isinstance(node.value, bool):
            raise FormulaError(f"only numbers are allowed as constants, got {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id not in names:
            hint = f"the graders are {sorted(names)}"
            if node.id in FUNCTIONS:
                hint = "a function: call it"
            raise FormulaError(f"unknown name {node.id!r} ({hint})")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise FormulaError(f"only the functions {sorted(FUNCTIONS)} can be called")
        if node.keywords or not node.args or any(isinstance(a, ast.Starred) for a in node.args):
            raise FormulaError(f"{node.func.id}() takes plain positional arguments")
        for arg in node.args:
            _check(arg, names)
    else:
        where = getattr(node, "col_offset", None)
        raise FormulaError(f"{type(node).__name__} is not allowed (at column {where})")


def evaluate_formula(tree: ast.Expression, values: dict[str, float]) -> float:
    """The formula's value; math errors (a division by zero, log of 0) raise ValueError."""
    try:
        result = float(_value(tree.body, values))
    except (ZeroDivisionError, OverflowError, ValueError, RecursionError) as exc:
        raise ValueError(f"calculate_output failed: {exc}") from None
    if not math.isfinite(result):
        raise ValueError(f"calculate_output gave {result}")
    return result


def _value(node: ast.AST, values: dict[str, float]) -> float:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # parse_formula allows numbers only
        return float(node.value)  # floats throughout: an int ** int could run for ever
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_value(node.left, values), _value(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_value(node.operand, values))
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return float(FUNCTIONS[node.func.id](*(_value(a, values) for a in node.args)))
    raise AssertionError(f"unchecked node {type(node).__name__}")  # parse_formula refused it


def grade_multi(grader: Any, grade_one: Callable[[Any], Outcome]) -> Outcome:
    """Grades each sub-grader with `grade_one`, then the formula over their rewards. A
    failing sub-grader fails the whole grader (its reward would be a guess)."""
    values: dict[str, float] = {}
    usage: dict[str, dict[str, int]] = {}
    scores: dict[str, Any] = {}
    for name, sub in grader.graders.items():
        outcome = grade_one(sub)
        values[name] = outcome.reward
        scores.update({f"{name}.{k}": v for k, v in outcome.scores.items()})
        for model, counts in outcome.usage_per_model.items():
            add_usage(usage, model, counts)
    tree = parse_formula(grader.calculate_output, set(grader.graders))
    try:
        reward = evaluate_formula(tree, values)
    except ValueError as exc:
        raise GraderFailure("other_error", str(exc)) from None
    return Outcome(reward, scores=scores, sub_rewards=values, usage_per_model=usage)
