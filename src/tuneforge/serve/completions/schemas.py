"""The text completion request, as OpenAI documents it; unknown fields are refused."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from tuneforge.serve.chat.schemas import INT64, StreamOptions, Strict


class CompletionRequest(Strict):
    model: str
    prompt: str | list[str]
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int | None = Field(None, ge=1)
    best_of: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    echo: bool | None = None
    suffix: str | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    user: str | None = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _text_prompts(cls, value: Any) -> Any:
        # Token-id prompts depend on one tokenizer; this server takes text only.
        if isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            raise PydanticCustomError(
                "prompt_type",
                "prompt must be a string or a list of strings (token ids are not supported)",
            )
        if isinstance(value, list) and not value:
            raise PydanticCustomError("prompt_empty", "prompt must not be an empty list")
        return value
