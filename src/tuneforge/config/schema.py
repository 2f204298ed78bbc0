"""Typed run configuration: one small model per concern, every default filled in.

The section and key names here are a contract that scripts and the jobs API rely on:
keys may be added, never renamed. Attribute docstrings become field descriptions.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, PositiveInt, field_validator, model_validator

from tuneforge.config.base import Section as _Section
from tuneforge.config.methods import MethodConfig, default_method
from tuneforge.config.report import ReportConfig
from tuneforge.train.methods.registry import METHODS

AdapterType = Literal["full", "lora", "dora", "qlora", "ia3", "prompt_tuning", "prefix_tuning"]


class ModelConfig(_Section):
    name_or_path: str = "smollm2-135m-instruct"
    """A known alias (`tuneforge models`), a local HF folder, or a hub id (needs network)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weight dtype. auto: bfloat16 on GPUs that support it, float32 on CPU, where
    bf16 autocast (train.mixed_precision) gives the speed and float32 weights keep the
    optimizer's updates exact."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% slower."""


class AdapterConfig(_Section):
    type: AdapterType = "lora"
    """full | lora | dora | qlora | ia3 | prompt_tuning | prefix_tuning."""
    r: PositiveInt = 16
    """LoRA/DoRA/QLoRA rank."""
    alpha: float = Field(32.0, gt=0)
    """LoRA scaling numerator: the update is scaled by alpha / r."""
    dropout: float = Field(0.05, ge=0, lt=1)
    """Dropout on the LoRA input."""
    target_modules: str | list[str] = "all-linear"
    """Modules to adapt: 'all-linear' or a list of module-name suffixes."""
    num_virtual_tokens: PositiveInt = 20
    """Prompt and prefix tuning: number of learned virtual tokens."""


class ReplayConfig(_Section):
    """General data replayed alongside the task's, so what the model knew is rehearsed."""

    path: str
    """General text or chat records: any format data.train reads (JSONL, JSON, CSV,
    Parquet, a folder, a hub id; chat, prompt/completion, text, ...), or a .txt/.md file
    read as plain-text documents. Tokenized and masked exactly as SFT data."""
    ratio: float = Field(0.25, gt=0)
    """Replay tokens drawn per task token, for every micro-batch (0.25: a quarter as
    many). The replay loss is the mean over its own trained tokens, added weighted by
    this ratio: for SFT that is the gradient of mixing replay tokens into the batch at
    this ratio, each weighted as a task token."""


class EWCConfig(_Section):
    """Elastic weight consolidation (Kirkpatrick et al., 2017)."""

    # `lambda` is a Python keyword: the field is lambda_, read and written as `lambda`.
    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    lambda_: float = Field(alias="lambda", gt=0)
    """The penalty's weight: lambda/2 x sum_i F_i (theta_i - theta0_i)^2 (eq. 3). The
    Fisher F of a per-token mean log-likelihood is small, so useful values are large
    (try 1e2 to 1e5, watching `ewc_penalty` against the loss)."""
    fisher_samples: PositiveInt = 64
    """General examples whose squared log-likelihood gradients estimate the diagonal
    Fisher (one forward and backward pass each, before training starts)."""
    data: str | None = None
    """General data for the Fisher (formats as data.replay.path); default: data.replay.path."""


class DataConfig(_Section):
    train: str | None = None
    """Training data: a JSONL/JSON/CSV/Parquet file, a folder of them, or a hub id, in any
    supported format (OpenAI chat, Alpaca, ShareGPT, Dolly, prompt/completion, text, ...)."""
    validation: str | None = None
    """Validation file in the same formats; overrides validation_split."""
    validation_split: float = Field(0.0, ge=0, lt=1)
    """Fraction of the training file held out for validation when no file is given."""
    max_length: PositiveInt = 1024
    """Examples are truncated to this many tokens; ones left with no trained token are dropped."""
    format: str = "auto"
    """Record format: auto (detected per record from its keys), or a format name to
    force one (alpaca, sharegpt, ...; text reads .txt/.md files as continued pretraining,
    one record per blank-line-separated document)."""
    max_prompt_length: PositiveInt | None = None
    """Most tokens of a pair's (or KTO example's) prompt: longer prompts lose their oldest
    turns first, then the start of their first kept turn; the system message and the
    template's structure stay. Default: what the longer reply leaves of max_length, and
    at least half of it (longer replies are cut at their end instead)."""
    tool_format: Literal["template", "json"] = "template"
    """How tool definitions and calls are rendered: template (the chat template's own
    `tools` support; an error when it has none), or json (written into the text in the
    Hermes layout: <tools>, <tool_call>, <tool_response>), for templates without it."""
    packing: bool = False
    """Pack several examples per row (attention never crosses examples)."""
    group_by_length: bool = True
    """Batch examples of similar length together so little compute goes to padding."""
    replay: ReplayConfig | None = None
    """Against forgetting: general records mixed into every batch and trained as their
    own kind (`replay_loss` in the metrics), e.g. {path: general.jsonl, ratio: 0.25}."""


class TrainConfig(_Section):
    epochs: PositiveInt | Literal["auto"] = 1
    """Passes over the data. auto: 3, more for small sets and fewer for large ones
    (OpenAI's rule; plan/auto.py), resolved from the number of examples when training starts."""
    max_steps: PositiveInt | None = None
    """Stop after this many optimizer steps (overrides epochs)."""
    batch_size: PositiveInt | Literal["auto"] = 8
    """Examples (or packed rows) per micro-batch. auto: 0.2% of the examples as a power of
    two, within [4, 256]."""
    grad_accum: PositiveInt = 1
    """Micro-batches per optimizer step; the loss is normalised by trained tokens, not batches."""
    max_tokens_per_forward: PositiveInt | Literal["auto"] | None = "auto"
    """Split each micro-batch into forward passes of at most this many tokens (rows x
    padded length); the gradient is unchanged, peak activation memory falls with it.
    auto: 512 on CPU, where smaller passes are also faster (they stay in cache), and no
    split on GPUs, which want large passes. null: never split."""
    lr: Annotated[float, Field(gt=0)] | Literal["auto"] = 2.0e-4
    """Peak learning rate. auto: the method's shipped LoRA config's, a tenth of it for
    full fine-tuning."""
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Clip the global gradient norm to this value; null disables clipping."""
    seed: int = 42
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    """auto: bf16 autocast where the hardware computes bf16 natively (GPUs from Ampere
    on; CPUs with AVX512_BF16, AMX or Arm BF16, confirmed by a short probe), float32
    elsewhere. The run's log says which it chose and why."""

    eval_every: PositiveInt | None = None
    """Optimizer steps between validation passes (and once at the end when set)."""
    save_every: PositiveInt | Literal["epoch"] | None = None
    """Optimizer steps between checkpoints, or `epoch`: one at the end of every epoch
    (the jobs API's rule, as OpenAI keeps one checkpoint per epoch)."""
    keep_checkpoints: PositiveInt = 2
    """Most recent checkpoints kept on disk; the best by validation (each method names
    its metric: loss, or the mean reward for grpo and ppo) is never deleted."""
    early_stopping_patience: PositiveInt | None = None
    """Stop after this many validation passes without improvement."""
    log_every: PositiveInt = 10
    """Optimizer steps between metrics rows."""

    l2_to_start: float = Field(0.0, ge=0)
    """Against forgetting (L2-SP): add l2_to_start/2 x the squared distance of the trained
    weights from where they started (an adapter's: its initialisation) to the loss of
    every optimizer step (`l2_to_start_penalty` in the metrics); 0: off."""
    ewc: EWCConfig | None = None
    """Against forgetting: elastic weight consolidation, the L2 pull weighted per weight
    by its Fisher information on general data (`ewc_penalty` in the metrics), e.g.
    {lambda: 1000, fisher_samples: 64}."""

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _no_is_not_false(cls, value):
        # YAML reads a bare `no` as false: `mixed_precision: no` means "no" here.
        return "no" if value is False else value


class OutputConfig(_Section):
    dir: str = "runs/my-run"
    """Run directory: config, metrics, plots, checkpoints and the trained adapter or model."""
    overwrite: bool = False
    """Allow writing into a run directory that already holds a finished run."""


class RunConfig(_Section):
    model: ModelConfig = ModelConfig()
    adapter: AdapterConfig = AdapterConfig()
    data: DataConfig = DataConfig()
    method: Annotated[MethodConfig, Field(discriminator="name", default_factory=default_method)]
    """Training method and its settings: `name` picks one (every method has a folder in
    train/methods/, its settings documented in its config.py)."""
    train: TrainConfig = TrainConfig()
    output: OutputConfig = OutputConfig()
    eval: ReportConfig | None = None
    """The regression report when training ends (base vs tuned on the target task and
    general ability, into the run's eval/ folder); `eval: {}` takes every default."""

    @model_validator(mode="after")
    def _check_combinations(self) -> RunConfig:
        if self.data.packing and self.adapter.type in ("prompt_tuning", "prefix_tuning"):
            raise ValueError(
                "data.packing cannot be combined with adapter.type "
                f"{self.adapter.type!r}: virtual tokens would be shared by every packed example; "
                "set data.packing=false"
            )
        general = self.data.replay is not None or self.train.ewc is not None
        if general and not METHODS[self.method.name].language_head:
            raise ValueError(
                f"data.replay and train.ewc need a language-model head: they train and "
                f"measure the log-likelihood of general text, and method {self.method.name!r} "
                "replaces the head with a scalar score; unset them (train.l2_to_start "
                "works with every method)"
            )
        if self.train.ewc is not None and self.train.ewc.data is None and not self.data.replay:
            raise ValueError(
                "train.ewc needs general data to estimate the Fisher information on: set "
                "train.ewc.data=general.jsonl (or data.replay.path, which it then uses)"
            )
        return self
