"""What one grader call yields, and the two ways it can fail.

A `GraderFailure` belongs to one sample (a missing item field, a crash of the user's
code, an unparsable model reply): it becomes an error flag of OpenAI's run response and
a reward of 0. A `GraderUnavailable` means this server cannot run the grader at all
(python graders off, no score model endpoint, a metric we refuse): a 400 before grading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The flags of OpenAI's `metadata.errors`, in its order.
ERROR_FLAGS = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_runtime_error",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
)


class GraderFailure(Exception):
    """A sample the grader could not score; `kind` is one of ERROR_FLAGS."""

    def __init__(self, kind: str, message: str):
        assert kind in ERROR_FLAGS, kind
        super().__init__(message)
        self.kind, self.message = kind, message


class GraderUnavailable(ValueError):
    """This server cannot run the grader; `param` names the field (dotted, from the grader)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message, self.param = message, param


@dataclass
class Outcome:
    """One grader's score with what model graders report about their calls."""

    reward: float
    scores: dict[str, Any] = field(default_factory=dict)
    sub_rewards: dict[str, float] = field(default_factory=dict)
    token_usage: dict[str, int] | None = None
    sampled_model_name: str | None = None
    usage_per_model: dict[str, dict[str, int]] = field(default_factory=dict)


def add_usage(total: dict[str, dict[str, int]], model: str, usage: dict[str, int]) -> None:
    """Sums token counts per model into `total` (multi graders call several)."""
    into = total.setdefault(model, {})
    for key, value in usage.items():
        into[key] = into.get(key, 0) + value
