"""Scorers for generated text: `score(prediction, reference, **options) -> float` in [0, 1].

One small pure function per scorer, chosen by name through `SCORERS`; `get_scorer` looks a
name up, checks its options and binds them, so a task fails on a bad name, option, pattern
or schema before it generates anything. Text comparisons live in `text.py`, JSON in
`structured.py`, word overlap (ROUGE-L, BLEU) in `overlap.py`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from tuneforge.errors import ConfigError
from tuneforge.eval.scorers.overlap import bleu, rouge_l
from tuneforge.eval.scorers.structured import (
    field_accuracy,
    json_schema,
    json_valid,
    schema_validator,
    strip_code_fence,
)
from tuneforge.eval.scorers.text import (
    compile_pattern,
    contains,
    exact,
    extract_number,
    normalise_text,
    normalised,
    numeric,
    regex,
)
from tuneforge.suggest import did_you_mean

Scorer = Callable[..., float]

SCORERS: dict[str, Scorer] = {
    "exact": exact,
    "normalised": normalised,
    "contains": contains,
    "regex": regex,
    "numeric": numeric,
    "json_valid": json_valid,
    "json_schema": json_schema,
    "field_accuracy": field_accuracy,
    "rouge_l": rouge_l,
    "bleu": bleu,
}

# Options whose mistakes can be found before any prediction exists.
_OPTION_CHECKS: dict[str, Callable[..., Any]] = {
    "regex": lambda pattern, **_: compile_pattern(pattern),
    "json_schema": lambda schema, **_: schema_validator(schema),
    "numeric": lambda tolerance=0.0, **_: _check_tolerance(tolerance),
}


def _check_tolerance(tolerance: float) -> None:
    if not tolerance >= 0:  # also refuses NaN
        raise ConfigError(f"numeric scorer: tolerance must be >= 0, got {tolerance!r}")


def get_scorer(name: str, **options: Any) -> Callable[[str, str], float]:
    """The scorer `name` with `options` bound: a function of (prediction, reference).

    An unknown name, an unknown or missing option, an invalid regex `pattern` or JSON
    `schema` is a ConfigError that names the fix (the known names, with a "did you mean").
    """
    if name not in SCORERS:
        hint = did_you_mean(name, list(SCORERS), "scorers")
        raise ConfigError(f"unknown scorer {name!r}; {hint}")
    scorer = SCORERS[name]
    parameters = inspect.signature(scorer).parameters
    accepted = [p for p, spec in parameters.items() if spec.kind is inspect.Parameter.KEYWORD_ONLY]
    for option in options:
        if option not in accepted:
            hint = did_you_mean(option, accepted, "options")
            raise ConfigError(f"scorer {name!r} has no option {option!r}; {hint}")
    missing = [
        p for p in accepted if parameters[p].default is inspect.Parameter.empty and p not in options
    ]
    if missing:
        raise ConfigError(f"scorer {name!r} needs the option(s) {', '.join(missing)}")
    if name in _OPTION_CHECKS:
        _OPTION_CHECKS[name](**options)
    return functools.partial(scorer, **options)


__all__ = [
    "SCORERS",
    "bleu",
    "contains",
    "exact",
    "extract_number",
    "field_accuracy",
    "get_scorer",
    "json_schema",
    "json_valid",
    "normalise_text",
    "normalised",
    "numeric",
    "regex",
    "rouge_l",
    "strip_code_fence",
]
