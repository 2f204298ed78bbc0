"""Configuration of `tuneforge eval`: which models, which tasks, where results go.

A YAML file (configs/eval/example.yaml shows every key) or the command line
(`--model`, `--adapter`, `--task KIND:PATH`) fills the same fields; flags win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from tuneforge.config.base import Section

TaskKind = Literal["loss", "generate", "choice", "preference"]


class JudgeConfig(Section):
    """Who judges a preference task's win rate: a reward model, or an LLM at an
    OpenAI-compatible endpoint. Set `reward_model`, or `base_url` and `model`."""

    reward_model: str | None = None
    """A `method: reward` run directory, or its adapter or model folder."""
    base_url: str | None = None
    """An OpenAI-compatible API, e.g. https://api.openai.com/v1 or http://localhost:8000/v1."""
    model: str | None = None
    """The judge model's name at that endpoint."""
    api_key_env: str | None = None
    """The environment variable holding the endpoint's API key (never the key itself: the
    task's settings are copied into results.json); none: a local endpoint without keys."""
    timeout_s: PositiveFloat = 60.0
    """Seconds to wait for one verdict before retrying it (three retries)."""
    concurrency: PositiveInt = 8
    """Verdicts requested at once."""

    @model_validator(mode="after")
    def _one_judge(self):
        uses_llm = self.base_url is not None or self.model is not None
        if uses_llm == (self.reward_model is not None):
            raise ValueError(
                "set exactly one judge: reward_model, or base_url and model (an LLM judge)"
            )
        if uses_llm and (self.base_url is None or self.model is None):
            raise ValueError("an LLM judge needs both base_url and model")
        return self


class TaskConfig(Section):
    kind: TaskKind
    """loss (held-out loss, perplexity, token accuracy), generate (replies scored against
    references), choice (multiple choice by log-likelihood), preference (pairs ranked by a
    reward model or by the implicit DPO reward; with `judge`, the win rate over the base)."""
    path: Path
    """The task's file: SFT records for loss and generate; for choice, JSONL
    {"prompt", "choices", "answer"} or MMLU-style CSV; preference pairs for preference
    (with `judge`, any file whose prompts generate reads)."""
    name: str | None = None
    """What results.json calls the task; default: the file's stem."""
    scorers: list[str] = ["normalised"]
    """generate: scorer names (exact, normalised, contains, regex, numeric, json_valid,
    json_schema, field_accuracy, rouge_l, bleu)."""
    scorer_options: dict[str, dict[str, Any]] = {}
    """generate: options per scorer, e.g. {regex: {pattern: "..."}}."""
    max_new_tokens: PositiveInt = 256
    """generate, and preference with a judge: the reply's token limit."""
    stop: list[str] = []
    """generate: the reply ends before the first of these strings."""
    max_length: PositiveInt = 1024
    """loss and preference: examples are cut to this many tokens, as data.max_length cuts
    them in training."""
    few_shot: int = Field(0, ge=0)
    """choice: examples taken from the start of the file as a prefix (not scored)."""
    chat_template: bool = False
    """choice: render each question through the model's chat template as a user turn."""
    beta: PositiveFloat = 0.1
    """preference: the DPO beta of dpo_reward_margin (accuracy does not depend on it)."""
    judge: JudgeConfig | None = None
    """preference: judge the model's replies against the base's (win rate) instead of
    ranking the file's pairs."""

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
    def _distinct_names(cls, tasks: list[TaskConfig]) -> list[TaskConfig]:
        return distinct_names(tasks)


def distinct_names(tasks: list[TaskConfig]) -> list[TaskConfig]:
    """The tasks, unless two share a name (results are keyed by it)."""
    labels = [t.label for t in tasks]
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise ValueError(f"two tasks are named {repeated}: give them distinct `name`s")
    return tasks
