"""Chat completions: render the conversation, run n choices, shape OpenAI's objects."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import JSONResponse, Response

from tuneforge.serve import sampling
from tuneforge.serve.chat.schemas import ChatCompletionRequest, JsonObjectFormat, JsonSchemaFormat
from tuneforge.serve.engine.base import Constraint, Engine
from tuneforge.serve.errors import APIError
from tuneforge.serve.generation import TokenInfo, collect, merge, run_choice, usage_object
from tuneforge.serve.models.service import resolve
from tuneforge.serve.settings import ServeSettings
from tuneforge.serve.sse import EventStream

FINGERPRINT = "tuneforge"


def constraint_of(body: ChatCompletionRequest) -> Constraint | None:
    fmt = body.response_format
    if isinstance(fmt, JsonObjectFormat):
        return Constraint("json_object")
    if isinstance(fmt, JsonSchemaFormat):
        return Constraint("json_schema", fmt.json_schema.schema_ or {})
    return None


def check(body: ChatCompletionRequest) -> None:
    """Rules between fields, which a per-field schema cannot say."""
    if body.stream_options is not None and not body.stream:
        raise APIError(
            400, "stream_options is only allowed when stream is true.", param="stream_options"
        )
    if body.top_logprobs is not None and not body.logprobs:
        raise APIError(400, "top_logprobs requires logprobs to be true.", param="top_logprobs")
    choice = body.tool_choice
    if choice is not None and choice not in ("auto", "none"):
        raise APIError(
            400,
            "tool_choice may only be 'auto' or 'none' on this server "
            "(forcing a tool call is not supported).",
            param="tool_choice",
        )


def conversation(body: ChatCompletionRequest) -> list[dict[str, Any]]:
    out = []
    for message in body.messages:
        item: dict[str, Any] = {"role": message.role, "content": message.text()}
        for key in ("name", "tool_calls", "tool_call_id"):
            if getattr(message, key) is not None:
                item[key] = getattr(message, key)
        out.append(item)
    return out


def logprobs_object(tokens: list[TokenInfo]) -> dict[str, Any]:
    def entry(text: str, logprob: float) -> dict[str, Any]:
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    return {
        "content": [
            {**entry(t.text, t.logprob), "top_logprobs": [entry(o.text, o.logprob) for o in t.top]}
            for t in tokens
        ],
        "refusal": None,
    }


async def create(
    engine: Engine, settings: ServeSettings, body: ChatCompletionRequest, org: str
) -> Response:
    card = resolve(engine, body.model, org)
    check(body)
    n = sampling.check_n(body.n, settings)
    stops = sampling.stop_list(body.stop, settings)
    tools = [tool.model_dump(exclude_none=True) for tool in body.tools] if body.tools else None
    prompt_ids = engine.render_chat(card.id, conversation(body), tools)
    wanted = body.max_completion_tokens or body.max_tokens
    param = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    max_tokens = sampling.budget(
        engine, card.id, len(prompt_ids), wanted, settings, "messages", param
    )
    top = (body.top_logprobs or 0) if body.logprobs else None
    params = sampling.params(
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        top_logprobs=top,
        constraint=constraint_of(body),
        stop_token_ids=engine.end_token_ids(card.id),
    )
    requests = sampling.requests_for(card.id, prompt_ids, params, n)
    choices = [run_choice(engine, r, i, stops, bool(body.logprobs)) for i, r in enumerate(requests)]
    meta = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "created": int(time.time()),
        "model": card.id,
        "system_fingerprint": FINGERPRINT,
    }
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventStream(
            _chunks(merge(choices), meta, n, len(prompt_ids), usage, bool(body.logprobs))
        )
    done = await collect(merge(choices), n)
    completion = sum(c.completion_tokens for c in done)
    return JSONResponse(
        {
            **meta,
            "object": "chat.completion",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": c.text, "refusal": None},
                    "logprobs": logprobs_object(c.tokens) if body.logprobs else None,
                    "finish_reason": c.finish_reason,
                }
                for i, c in enumerate(done)
            ],
            "usage": usage_object(len(prompt_ids), completion),
        }
    )


async def _chunks(
    pieces: AsyncIterator[Any],
    meta: dict[str, Any],
    n: int,
    prompt: int,
    usage: bool,
    logprobs: bool,
) -> AsyncIterator[dict[str, Any]]:
    head = {**meta, "object": "chat.completion.chunk"}

    def chunk(
        index: int,
        delta: dict[str, Any],
        finish: str | None = None,
        tokens: list[TokenInfo] | None = None,
    ) -> dict[str, Any]:
        choice = {
            "index": index,
            "delta": delta,
            "logprobs": logprobs_object(tokens) if logprobs and tokens else None,
            "finish_reason": finish,
        }
        return {**head, "choices": [choice], **({"usage": None} if usage else {})}

    # Every choice opens with the role, so clients can render it before any token.
    for i in range(n):
        yield chunk(i, {"role": "assistant", "content": ""})
    completion = 0
    try:
        async for piece in pieces:
            if piece.text or piece.tokens:
                yield chunk(piece.index, {"content": piece.text}, None, piece.tokens)
            if piece.finish_reason is not None:
                completion += piece.completion_tokens
                yield chunk(piece.index, {}, piece.finish_reason)
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
    if usage:
        yield {**head, "choices": [], "usage": usage_object(prompt, completion)}
