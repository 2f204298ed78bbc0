"""Text completions: encode each prompt, run n choices per prompt, shape the objects."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, Response

from tuneforge.serve import sampling
from tuneforge.serve.completions.schemas import CompletionRequest
from tuneforge.serve.engine.base import Engine
from tuneforge.serve.errors import APIError
from tuneforge.serve.generation import Piece, TokenInfo, collect, merge, run_choice, usage_object
from tuneforge.serve.models.service import resolve
from tuneforge.serve.settings import ServeSettings
from tuneforge.serve.sse import EventStream

FINGERPRINT = "tuneforge"


def check(body: CompletionRequest, n: int) -> None:
    if body.suffix is not None:
        raise APIError(
            400,
            "suffix (fill-in-the-middle) is not supported by this server.",
            param="suffix",
            code="unsupported_parameter",
        )
    if body.best_of is not None and body.best_of not in (1, n):
        raise APIError(
            400,
            "best_of other than 1 or n is not supported by this server.",
            param="best_of",
            code="unsupported_parameter",
        )
    if body.stream_options is not None and not body.stream:
        raise APIError(
            400, "stream_options is only allowed when stream is true.", param="stream_options"
        )


def logprobs_object(tokens: list[TokenInfo], shift: int) -> dict[str, Any]:
    return {
        "tokens": [t.text for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [{o.text: o.logprob for o in t.top} for t in tokens],
        "text_offset": [t.offset + shift for t in tokens],
    }


async def create(
    engine: Engine, settings: ServeSettings, body: CompletionRequest, org: str
) -> Response:
    card = resolve(engine, body.model, org)
    n = sampling.check_n(body.n, settings)
    check(body, n)
    stops = sampling.stop_list(body.stop, settings)
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if len(prompts) * n > settings.max_n * 4:
        raise APIError(
            400,
            f"{len(prompts)} prompts x n={n} is more choices than this server runs in one request.",
            param="prompt",
        )
    encoded = [engine.encode(card.id, p) for p in prompts]
    if any(not ids for ids in encoded):
        raise APIError(400, "prompt must not be empty.", param="prompt")
    top = body.logprobs
    choices = []
    for k, ids in enumerate(encoded):
        max_tokens = sampling.budget(engine, card.id, len(ids), body.max_tokens, settings, "prompt")
        params = sampling.params(
            max_tokens=max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            seed=body.seed,
            presence_penalty=body.presence_penalty,
            frequency_penalty=body.frequency_penalty,
            top_logprobs=top,
            constraint=None,
            stop_token_ids=engine.end_token_ids(card.id),
        )
        for j, request in enumerate(sampling.requests_for(card.id, ids, params, n)):
            choices.append(run_choice(engine, request, k * n + j, stops, top is not None))
    # With echo the prompt is part of each choice's text, so offsets shift by its length.
    echo = [p if body.echo else "" for p in prompts for _ in range(n)]
    meta = {
        "id": f"cmpl-{secrets.token_hex(12)}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": card.id,
        "system_fingerprint": FINGERPRINT,
    }
    prompt_tokens = sum(len(ids) for ids in encoded)
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventStream(
            _chunks(merge(choices), meta, echo, prompt_tokens, usage, top is not None)
        )
    done = await collect(merge(choices), len(choices))
    completion = sum(c.completion_tokens for c in done)
    return JSONResponse(
        {
            **meta,
            "choices": [
                {
                    "text": echo[i] + c.text,
                    "index": i,
                    "logprobs": logprobs_object(c.tokens, len(echo[i]))
                    if top is not None
                    else None,
                    "finish_reason": c.finish_reason,
                }
                for i, c in enumerate(done)
            ],
            "usage": usage_object(prompt_tokens, completion),
        }
    )


async def _chunks(
    pieces: AsyncIterator[Piece],
    meta: dict[str, Any],
    echo: list[str],
    prompt: int,
    usage: bool,
    logprobs: bool,
) -> AsyncIterator[dict[str, Any]]:
    def chunk(index: int, text: str, finish: str | None, tokens: list[TokenInfo]) -> dict[str, Any]:
        lp = logprobs_object(tokens, len(echo[index])) if logprobs else None
        return {
            **meta,
            "choices": [{"text": text, "index": index, "logprobs": lp, "finish_reason": finish}],
            **({"usage": None} if usage else {}),
        }

    for i, text in enumerate(echo):
        if text:
            yield chunk(i, text, None, [])
    completion = 0
    try:
        async for piece in pieces:
            if piece.finish_reason is not None:
                completion += piece.completion_tokens
            if piece.text or piece.tokens or piece.finish_reason:
                yield chunk(piece.index, piece.text, piece.finish_reason, piece.tokens)
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
    if usage:
        yield {**meta, "choices": [], "usage": usage_object(prompt, completion)}
