"""The engine interface: what the HTTP layer may ask of a model server.

Routes and services speak only these types, so tests drive them with a fake engine in
milliseconds, and another backend (vLLM) can sit behind the same routes. Everything is
in token ids: the service renders chat templates and counts tokens through `encode` /
`render_chat`, the engine decodes one step at a time and reports each token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


class EngineError(Exception):
    """A request the engine refuses; the HTTP layer turns it into an OpenAI error object."""

    def __init__(
        self, message: str, status: int = 400, code: str | None = None, param: str | None = None
    ):
        super().__init__(message)
        self.message, self.status, self.code, self.param = message, status, code, param


class ModelNotFound(EngineError):
    def __init__(self, model: str):
        super().__init__(
            f"The model '{model}' does not exist or you do not have access to it.",
            status=404,
            code="model_not_found",
            param="model",
        )


class TemplateError(EngineError):
    """The chat template could not render the conversation (its own message)."""

    def __init__(self, message: str):
        super().__init__(message, status=400, code="invalid_request_error", param="messages")


@dataclass(frozen=True)
class ModelCard:
    """One servable model: a base, a fine-tuned adapter on a base, or a full model."""

    id: str
    created: int
    owned_by: str
    root: str  # the base model it runs on (itself for a base or full model)
    parent: str | None  # the model it was tuned from; None for a base
    kind: Literal["base", "adapter", "model"]


@dataclass(frozen=True)
class Constraint:
    """Structured output: every sampled token keeps the text a prefix of a valid reply."""

    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0  # 0 is greedy
    top_p: float = 1.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    top_logprobs: int | None = None  # None: no log-probs; 0..20: the chosen token's and k others
    constraint: Constraint | None = None
    stop_token_ids: tuple[int, ...] = ()  # ends the reply (end-of-turn); never shown


@dataclass(frozen=True)
class GenerationRequest:
    model: str  # a ModelCard id
    prompt_ids: list[int]
    params: SamplingParams


@dataclass(frozen=True)
class TopLogprob:
    token_id: int
    text: str
    logprob: float


@dataclass(frozen=True)
class TokenEvent:
    """One decoded token. The last event of a request carries `finish_reason` ("stop"
    on an end token or a finished constraint, "length" at max_tokens); its token may be
    None when nothing more was sampled."""

    token_id: int | None
    logprob: float | None = None
    top_logprobs: tuple[TopLogprob, ...] = ()
    finish_reason: Literal["stop", "length"] | None = None


@dataclass
class EngineStats:
    running: int = 0
    waiting: int = 0
    loaded_adapters: list[str] = field(default_factory=list)


class Engine(Protocol):
    def models(self) -> list[ModelCard]:
        """Every servable model, re-read from the registry (adapters added since appear)."""

    def card(self, model: str) -> ModelCard:
        """The card of one model id; raises ModelNotFound."""

    def render_chat(self, model: str, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """Prompt ids of a conversation through the model's chat template with the
        generation prompt; raises TemplateError with the template's message."""

    def encode(self, model: str, text: str) -> list[int]:
        """Token ids of plain text (completions), without special tokens."""

    def decode(self, model: str, token_ids: list[int]) -> str:
        """Text of ids, special tokens skipped; the service decodes growing prefixes so
        multi-byte characters split across tokens come out whole."""

    def context_length(self, model: str) -> int:
        """Prompt plus reply tokens the model can attend to."""

    def end_token_ids(self, model: str) -> tuple[int, ...]:
        """Tokens that end an assistant turn (eos, end-of-turn)."""

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Tokens as they are decoded. Closing the iterator early (client gone, stop
        string matched) frees the request's batch slot at the next step."""

    def register_adapter(self, name: str, path: str) -> ModelCard:
        """Validate and list an adapter (a run directory or adapter folder)."""

    def unregister_adapter(self, name: str) -> None:
        """Remove an adapter registered through the API; raises ModelNotFound."""

    def preload(self, model: str) -> None:
        """Make a newly registered model's first request fast: a LoRA adapter is loaded
        into its base now (blocking until it is); other models load on first use.
        Raises what a request for the model would (ModelNotFound, EngineError)."""

    def stats(self) -> EngineStats: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
