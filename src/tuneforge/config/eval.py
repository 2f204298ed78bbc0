"""Configuration of `tuneforge eval`: which models, which tasks, where results go.

A YAML file (configs/eval/example.yaml shows every key) or the command line
(`--model`, `--adapter`, `--task KIND:PATH`) fills the same fields; flags win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, field_validator

from tuneforge.config.base import Section

TaskKind = Literal["loss", "generate", "choice"]


class TaskConfig(Section):
    kind: TaskKind
    """loss (held-out loss, perplexity, token accuracy), generate (replies scored against
    references), choice (multiple choice by log-likelihood)."""
    path: Path
    """The task's file: SFT records for loss and generate; for choice, JSONL
    {"prompt", "choices", "answer"} or MMLU-style CSV."""
    name: str | None = None
    """What results.json calls the task; default: the file's stem."""
    scorers: list[str] = ["normalised"]
    """generate: scorer names (exact, normalised, contains, regex, numeric, json_valid,
    json_schema, field_accuracy, rouge_l, bleu)."""
    scorer_options: dict[str, dict[str, Any]] = {}
    """generate: options per scorer, e.g. {regex: {pattern: "..."}}."""
    max_new_tokens: PositiveInt = 256
    """generate: the reply's token limit."""
    stop: list[str] = []
    """generate: the reply ends before the first of these strings."""
    max_length: PositiveInt = 1024
    """loss: examples are cut to this many tokens, as data.max_length cuts them in training."""
    few_shot: int = Field(0, ge=0)
    """choice: examples taken from the start of the file as a prefix (not scored)."""
    chat_template: bool = False
    """choice: render each question through the model's chat template as a user turn."""

    @property
    def label(self) -> str:
        return self.name or self.path.stem


class EvalConfig(Section):
    model: str | None = None
    """The base model: an alias, folder or hub id; default: the adapters' own base."""
    adapters: list[str] = []
    """Run directories or adapter folders of that base, each evaluated beside the base
    on one load of it; a full fine-tuned model's run is loaded on its own."""
    tasks: list[TaskConfig] = []
    output: Path = Path("eval-output")
    """Where results.json and each task's samples go."""
    batch_size: PositiveInt = 8
    """Sequences per forward pass; no result depends on it."""
    seed: int = 0
    """Seeds sampling (a generate task with temperature) and the bootstrap intervals."""

    @field_validator("tasks")
    @classmethod
    def _unique_names(cls, tasks: list[TaskConfig]) -> list[TaskConfig]:
        labels = [t.label for t in tasks]
        repeated = sorted({x for x in labels if labels.count(x) > 1})
        if repeated:
            raise ValueError(f"two tasks are named {repeated}: give them distinct `name`s")
        return tasks
