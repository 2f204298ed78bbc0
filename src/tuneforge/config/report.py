"""Configuration of the regression report: `tuneforge eval --compare BASE --against RUN`,
and the `eval:` section of a training config (or a jobs API job) that runs it when
training ends.
"""

from __future__ import annotations

from pydantic import Field, PositiveInt, field_validator

from tuneforge.config.base import Section
from tuneforge.config.eval import TaskConfig, distinct_names


class ReportConfig(Section):
    tasks: list[TaskConfig] = []
    """The target task(s), base and tuned scored side by side; default: a loss task on
    the run's data.validation file."""
    general_tasks: list[TaskConfig] = []
    """Further general-ability suites (multiple choice, generation), reported under
    `general` beside the built-in probe."""
    general_probe: bool = True
    """The built-in label-free probe: kl_to_base on general conversations and perplexity
    on general text (eval/general/)."""
    alpha: float = Field(0.05, gt=0, lt=1)
    """A difference counts only when its paired-bootstrap p-value is below this."""
    min_effect: float = Field(0.01, ge=0)
    """... and when it is at least this share of the base value."""
    kl_threshold: float = Field(0.1, ge=0)
    """kl_to_base (nats/token) is a regression when its interval lies above this."""
    overfit_tolerance: float = Field(0.01, ge=0)
    """Validation must end this share worse than its best to count as turned."""
    batch_size: PositiveInt = 8
    seed: int = 0

    @field_validator("tasks", "general_tasks")
    @classmethod
    def _distinct_names(cls, tasks: list[TaskConfig]) -> list[TaskConfig]:
        return distinct_names(tasks)
