"""OpenAI's fine-tuning objects: the create request, the job, its events and checkpoints.

`method`, `hyperparameters` and `adapter` arrive as plain objects: train_spec.py checks
them and names the bad field in `param` (`method.dpo.hyperparameters.beta`), which
pydantic's union errors could not do as plainly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_METADATA_PAIRS = 16  # OpenAI's limits on metadata
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


class JobCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    """Deprecated by OpenAI in favour of method.<type>.hyperparameters; still accepted."""
    integrations: list[dict[str, Any]] | None = None
    """Weights & Biases reporting: accepted and ignored, with an event saying so."""
    adapter: dict[str, Any] | None = None
    """TuneForge's extension: {"type": "lora" | "qlora" | "dora" | "full", "r", "alpha"}."""
    eval: dict[str, Any] | None = None
    """TuneForge's extension: the regression report when training ends (jobs/eval_spec.py);
    {} for the defaults."""

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > MAX_METADATA_PAIRS:
            raise ValueError(f"at most {MAX_METADATA_PAIRS} key-value pairs")
        for key, text in value.items():
            if len(key) > MAX_METADATA_KEY or len(text) > MAX_METADATA_VALUE:
                raise ValueError(
                    f"keys have at most {MAX_METADATA_KEY} characters and values at most "
                    f"{MAX_METADATA_VALUE} ({key[:20]!r})"
                )
        return value


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: dict[str, Any]
    model: str
    organization_id: str
    result_files: list[str]
    seed: int
    status: str
    """validating_files | queued | running | succeeded | failed | cancelled | paused."""
    trained_tokens: int | None = None
    training_file: str
    validation_file: str | None = None
    estimated_finish: int | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any]
    user_provided_suffix: str | None = None


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class JobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: str
    message: str
    data: dict[str, Any] | None = None
    type: str = "message"


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool


class JobCheckpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: dict[str, Any]
    step_number: int


class CheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobCheckpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool
