"""An OpenAI grader as a GRPO/PPO reward function:

    method:
      reward_function: tuneforge.graders.reward:grade_reward
      reward_kwargs:
        grader: {type: string_check, name: exact, input: "{{sample.output_text}}",
                 reference: "{{item.reference_answer}}", operation: eq}

Each completion is the `sample`; the item is its training record's other fields (an
OpenAI reinforcement file's `reference_answer` and the like; `messages` is the prompt).
A field a record lacks is absent from its item, so a template naming it fails loudly.

Failures that depend on the sample (a python grader's crash on odd output, an unreadable
score-model reply) score 0, as OpenAI's reinforcement jobs do. Failures that mean the
setup is wrong raise instead, because training on all-zero rewards teaches nothing: an
unknown template variable, an unreachable score model, a sandbox that cannot start, or
every completion of the batch failing the same way.
"""

from __future__ import annotations

from typing import Any

from tuneforge.graders.run import check_available, grade
from tuneforge.graders.settings import GraderSettings
from tuneforge.graders.spec import parse_grader

_SETUP_ERRORS = (
    "invalid_variable_error", "model_grader_server_error", "python_grader_server_error",
)  # fmt: skip


def grade_reward(
    prompts: list[str],
    completions: list[str],
    grader: dict[str, Any] | None = None,
    grader_settings: dict[str, Any] | None = None,
    **columns: Any,
) -> list[float]:
    """One reward per completion. `grader`: the OpenAI grader object; `grader_settings`:
    GraderSettings fields (e.g. {"allow_python": true} for python graders, the
    score-model endpoint)."""
    if grader is None:
        raise ValueError("grade_reward needs method.reward_kwargs.grader (an OpenAI grader)")
    spec = parse_grader(grader)
    settings = GraderSettings(**(grader_settings or {}))
    check_available(spec, settings)
    rewards, failures = [], []
    for row, completion in enumerate(completions):
        item = {name: values[row] for name, values in columns.items() if values[row] is not None}
        result = grade(spec, completion, item, settings)
        if result.error_kind in _SETUP_ERRORS:
            raise ValueError(f"grader {spec.name!r} on record {row}: {result.error_message}")
        if result.error_kind:
            failures.append(result.error_message)
        rewards.append(result.reward)
    if completions and len(failures) == len(completions):
        raise ValueError(
            f"grader {spec.name!r} failed on every completion of the batch: {failures[0]}"
        )
    return rewards
