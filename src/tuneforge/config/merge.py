"""Configuration of `tuneforge merge CONFIG.yaml OUTPUT_DIR`, shaped like mergekit's so its
users feel at home (configs/merge/ shows every key).

    merge_method: ties
    base_model: smollm2-135m-instruct
    models:
      - model: runs/support-lora           # a run, adapter folder, model folder or alias
        parameters: {weight: 0.6, density: 0.5}
      - model: runs/orders-lora
        parameters: {weight: 0.4, density: [{filter: mlp, value: 0.7}, {value: 0.5}]}
    parameters: {normalize: true}
    dtype: bfloat16
    tokenizer_source: base

A parameter is a number or flag, or a list of {filter, value} entries: the first entry
whose `filter` is part of a tensor's name gives that tensor's value, an entry without a
filter is the default (mergekit's per-tensor filters). `merge_method: lora` merges one
PEFT adapter into its base (merge_and_unload).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tuneforge.config.base import Section
from tuneforge.config.eval import TaskConfig, distinct_names

Dtype = Literal["float32", "bfloat16", "float16"]
LORA_MERGE = "lora"


class MergeModel(Section):
    model: str
    """A run directory, adapter folder, HF model folder or alias. An adapter enters the
    merge as its base with the adapter merged in."""
    parameters: dict[str, Any] = {}
    """This model's parameters (weight, density, ...)."""


class MergeEvaluation(Section):
    tasks: list[TaskConfig]
    """`tuneforge eval` tasks run on the merged model and on every source."""
    batch_size: int = Field(8, gt=0)

    @field_validator("tasks")
    @classmethod
    def _distinct_names(cls, tasks: list[TaskConfig]) -> list[TaskConfig]:
        return distinct_names(tasks)


class MergeConfig(Section):
    merge_method: str
    """linear, task_arithmetic, slerp, ties, dare_linear, dare_ties, or lora."""
    models: list[MergeModel]
    base_model: str | None = None
    """The model task vectors are taken from (slerp's t = 0 end); default for an adapter
    merge: the base the adapters were trained from."""
    parameters: dict[str, Any] = {}
    """The merge's parameters (normalize, t, lambda, rescale), and defaults of per-model
    ones."""
    dtype: Dtype = "float32"
    """The merged model's weights; the arithmetic is always float32."""
    tokenizer_source: str | None = None
    """`base`, or a model of the merge: whose tokenizer and chat template the result gets.
    Required when the sources' vocabularies or templates differ."""
    seed: int = 0
    """Seeds DARE's random drops (the same seed, the same merge)."""
    evaluate: MergeEvaluation | None = None

    @model_validator(mode="after")
    def _models(self) -> MergeConfig:
        if not self.models:
            raise ValueError("models: list the models to merge")
        if self.merge_method == LORA_MERGE and len(self.models) != 1:
            raise ValueError("merge_method lora merges one adapter into its base: list one model")
        return self
