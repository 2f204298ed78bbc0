"""Request and response shapes of POST /v1/fine_tuning/alpha/graders/{run,validate}.

The grader itself travels as a JSON object and is validated by tuneforge.graders.spec,
so its errors name the field inside the grader (`grader.graders.exact.operation`)
rather than pydantic's union members.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunGraderRequest(_Request):
    grader: dict[str, Any]
    model_sample: str
    """The model output: `sample.output_text`, and `sample.output_json` when it is JSON."""
    item: Any = None
    """The dataset record: the `item` namespace."""


class ValidateGraderRequest(_Request):
    grader: dict[str, Any]


class ValidateGraderResponse(BaseModel):
    grader: dict[str, Any]


class GraderErrors(BaseModel):
    formula_parse_error: bool
    sample_parse_error: bool
    truncated_observation_error: bool
    unresponsive_reward_error: bool
    invalid_variable_error: bool
    other_error: bool
    python_grader_server_error: bool
    python_grader_server_error_type: str | None = None
    python_grader_runtime_error: bool
    python_grader_runtime_error_details: str | None = None
    model_grader_server_error: bool
    model_grader_refusal_error: bool
    model_grader_parse_error: bool
    model_grader_server_error_details: str | None = None
    error_message: str | None = None
    """Ours: what went wrong, whichever flag is set (OpenAI has details for two only)."""


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0


class GraderRunMetadata(BaseModel):
    name: str
    type: str
    errors: GraderErrors
    execution_time: float
    scores: dict[str, Any]
    token_usage: TokenUsage | None = None
    sampled_model_name: str | None = None


class RunGraderResponse(BaseModel):
    reward: float
    metadata: GraderRunMetadata
    sub_rewards: dict[str, float]
    model_grader_token_usage_per_model: dict[str, TokenUsage]
