"""Grading one sample: `grade(grader, sample, item)`, as OpenAI's graders/run does.

A grader either scores the sample or fails on it; a failure gives reward 0 with the
error's flag set in `errors` (OpenAI's `metadata.errors`) and its message in
`error_message`. What the server cannot run at all (`check_available`) raises
GraderUnavailable before anything is graded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tuneforge.graders.multi import grade_multi
from tuneforge.graders.outcome import ERROR_FLAGS, GraderFailure, GraderUnavailable, Outcome
from tuneforge.graders.python_grader import check_python_available, grade_python
from tuneforge.graders.score_model import check_score_model_available, grade_score_model
from tuneforge.graders.settings import GraderSettings
from tuneforge.graders.spec import parse_grader
from tuneforge.graders.string_check import grade_string_check
from tuneforge.graders.templates import make_sample
from tuneforge.graders.text_similarity import grade_text_similarity, unsupported_metric


@dataclass
class GradeResult:
    name: str
    type: str
    reward: float
    errors: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(ERROR_FLAGS, False))
    error_message: str | None = None
    execution_time: float = 0.0
    scores: dict[str, Any] = field(default_factory=dict)
    sub_rewards: dict[str, float] = field(default_factory=dict)
    token_usage: dict[str, int] | None = None
    sampled_model_name: str | None = None
    token_usage_per_model: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def error_kind(self) -> str | None:
        return next((k for k, v in self.errors.items() if v), None)


def grade(
    grader: Any,
    sample: str | dict[str, Any],
    item: dict[str, Any] | None = None,
    settings: GraderSettings | None = None,
) -> GradeResult:
    """Grades `sample` (the model's output text, or a ready `sample` namespace) against
    `item` (the dataset record). `grader` is a spec model or its JSON object."""
    settings = settings or GraderSettings()
    if isinstance(grader, dict):
        grader = parse_grader(grader)
    check_available(grader, settings)
    namespace = make_sample(sample) if isinstance(sample, str) else sample
    start = time.perf_counter()
    result = GradeResult(grader.name, grader.type, 0.0)
    try:
        outcome = _grade_one(grader, namespace, item or {}, settings)
    except GraderFailure as failure:
        result.errors[failure.kind] = True
        result.error_message = failure.message
    else:
        result.reward, result.scores = outcome.reward, outcome.scores
        result.sub_rewards, result.token_usage = outcome.sub_rewards, outcome.token_usage
        result.sampled_model_name = outcome.sampled_model_name
        result.token_usage_per_model = outcome.usage_per_model
    result.execution_time = time.perf_counter() - start
    return result


def check_available(grader: Any, settings: GraderSettings, param: str = "") -> None:
    """GraderUnavailable (naming the field) for what this server cannot run."""
    where = f"{param}." if param else ""
    try:
        if grader.type == "python":
            check_python_available(settings)
        elif grader.type == "score_model":
            check_score_model_available(settings)
        elif grader.type == "text_similarity":
            reason = unsupported_metric(grader.evaluation_metric)
            if reason:
                raise GraderUnavailable(reason, "evaluation_metric")
    except GraderUnavailable as exc:
        raise GraderUnavailable(exc.message, f"{where}{exc.param}") from None
    if grader.type == "multi":
        for name, sub in grader.graders.items():
            check_available(sub, settings, f"{where}graders.{name}")


def _grade_one(grader: Any, sample: dict, item: dict, settings: GraderSettings) -> Outcome:
    grade_with: dict[str, Callable[[], Outcome]] = {
        "string_check": lambda: grade_string_check(grader, sample, item),
        "text_similarity": lambda: grade_text_similarity(grader, sample, item),
        "python": lambda: grade_python(grader, sample, item, settings),
        "score_model": lambda: grade_score_model(grader, sample, item, settings),
        "multi": lambda: grade_multi(
            grader, partial(_grade_one, sample=sample, item=item, settings=settings)
        ),
    }
    return grade_with[grader.type]()
