"""Request checks shared by chat and completions: the token budget, stops, n, seeds."""

from __future__ import annotations

from tuneforge.serve.engine.base import Constraint, Engine, GenerationRequest, SamplingParams
from tuneforge.serve.errors import APIError
from tuneforge.serve.settings import ServeSettings


def check_n(n: int | None, settings: ServeSettings) -> int:
    n = 1 if n is None else n
    if n > settings.max_n:
        raise APIError(400, f"n is {n}, above this server's limit of {settings.max_n}.", param="n")
    return n


def stop_list(stop: str | list[str] | None, settings: ServeSettings) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > settings.max_stop:
        raise APIError(
            400,
            f"stop has {len(stops)} strings; at most {settings.max_stop} are allowed.",
            param="stop",
        )
    return stops


def budget(
    engine: Engine,
    model: str,
    prompt_len: int,
    max_tokens: int | None,
    settings: ServeSettings,
    prompt_param: str,
    tokens_param: str = "max_tokens",
) -> int:
    """The reply's token limit; refuses what cannot fit in the model's context."""
    context = engine.context_length(model)
    if prompt_len >= context:
        raise APIError(
            400,
            f"This model's maximum context length is {context} tokens. "
            f"However, your {prompt_param} resulted in {prompt_len} tokens, "
            "which leaves no room for a reply.",
            param=prompt_param,
            code="context_length_exceeded",
        )
    left = context - prompt_len
    if max_tokens is None:
        default = settings.max_tokens_default
        return left if default is None else min(default, left)
    if max_tokens > left:
        raise APIError(
            400,
            f"This model's maximum context length is {context} tokens. "
            f"However, you requested {prompt_len + max_tokens} tokens "
            f"({prompt_len} in the {prompt_param}, {max_tokens} for the "
            f"completion). Please reduce {tokens_param} to {left} or less.",
            param=tokens_param,
            code="context_length_exceeded",
        )
    return max_tokens


def requests_for(
    model: str, prompt_ids: list[int], params: SamplingParams, n: int
) -> list[GenerationRequest]:
    """n independent requests; with a seed, choice i uses seed + i so the choices differ
    from each other yet the whole response is reproducible."""
    out = []
    for i in range(n):
        seed = None if params.seed is None else params.seed + i
        out.append(GenerationRequest(model, list(prompt_ids), _with_seed(params, seed)))
    return out


def _with_seed(params: SamplingParams, seed: int | None) -> SamplingParams:
    from dataclasses import replace

    return replace(params, seed=seed)


def params(
    *,
    max_tokens: int,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    presence_penalty: float | None,
    frequency_penalty: float | None,
    top_logprobs: int | None,
    constraint: Constraint | None,
    stop_token_ids: tuple[int, ...],
) -> SamplingParams:
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=1.0 if temperature is None else temperature,  # OpenAI's default
        top_p=1.0 if top_p is None else top_p,
        seed=seed,
        presence_penalty=presence_penalty or 0.0,
        frequency_penalty=frequency_penalty or 0.0,
        top_logprobs=top_logprobs,
        constraint=constraint,
        stop_token_ids=tuple(stop_token_ids),
    )
