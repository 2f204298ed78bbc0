"""A deterministic engine for tests: one character is one token, the "model" is a script.

Tokens are code points (id = ord(c)); END_ID lies past Unicode so it can never be text.
Greedy decoding replies `reply`; temperature > 0 draws words from a seeded generator,
so a given seed always gives the same reply and different seeds differ. A JSON
constraint replies a fixed JSON value built from the schema (only a fake does that: a real
engine masks logits). Every request is recorded, and `closed` counts iterators closed
before their end (stop string matched, client gone).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from tuneforge.serve.engine.base import (
    EngineError,
    EngineStats,
    GenerationRequest,
    ModelCard,
    ModelNotFound,
    TemplateError,
    TokenEvent,
    TopLogprob,
)

END_ID = 0x110000
WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota")


def value_for(schema: dict[str, Any]) -> Any:
    """A small value that satisfies a (simple) JSON schema."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0] if kind else "object"
    if kind == "object":
        props = schema.get("properties", {})
        return {name: value_for(sub) for name, sub in props.items() if isinstance(sub, dict)}
    if kind == "array":
        items = schema.get("items")
        return (
            [value_for(items)] * max(1, schema.get("minItems", 1))
            if isinstance(items, dict)
            else []
        )
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(
        kind, "text"
    )


class FakeEngine:
    def __init__(
        self,
        reply: str = "Hello! I am a fake model.",
        context_length: int = 2048,
        base: str = "fake-base",
        delay: float = 0.0,
    ):
        self.reply, self._context, self.base, self.delay = reply, context_length, base, delay
        self.created = int(time.time())
        self.adapters: dict[str, str] = {}
        self.preloaded: list[str] = []
        self.requests: list[GenerationRequest] = []
        self.closed = 0
        self.started = False
        self.running = 0

    # -- models ---------------------------------------------------------------------
    def models(self) -> list[ModelCard]:
        base = ModelCard(self.base, self.created, "tuneforge", self.base, None, "base")
        return [base] + [
            ModelCard(name, self.created, "tuneforge", self.base, self.base, "adapter")
            for name in self.adapters
        ]

    def card(self, model: str) -> ModelCard:
        for card in self.models():
            if card.id == model:
                return card
        raise ModelNotFound(model)

    def register_adapter(self, name: str, path: str) -> ModelCard:
        if name == self.base or name in self.adapters:
            raise EngineError(f"A model named '{name}' already exists.", param="lora_name")
        try:
            found = Path(path).is_dir()
        except (OSError, ValueError):
            found = False
        if not found:
            raise EngineError(f"No adapter folder at '{path}'.", param="lora_path")
        self.adapters[name] = path
        return self.card(name)

    def unregister_adapter(self, name: str) -> None:
        if name not in self.adapters:
            raise ModelNotFound(name)
        del self.adapters[name]

    def preload(self, model: str) -> None:
        self.preloaded.append(model)  # nothing to load: recorded for tests

    # -- tokens ---------------------------------------------------------------------
    def render_chat(self, model: str, messages: list[dict], tools: list[dict] | None) -> list[int]:
        self.card(model)
        if messages and messages[-1].get("content") == "BREAK THE TEMPLATE":
            raise TemplateError("the template refused this conversation")
        text = "".join(f"<{m['role']}>{m.get('content') or ''}\n" for m in messages)
        if tools:
            text = f"<tools>{json.dumps(tools)}\n" + text
        return self.encode(model, text + "<assistant>")

    def encode(self, model: str, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, model: str, token_ids: list[int]) -> str:
        return "".join(chr(i) for i in token_ids if 0 <= i < END_ID)

    def context_length(self, model: str) -> int:
        return self._context

    def end_token_ids(self, model: str) -> tuple[int, ...]:
        return (END_ID,)

    # -- generation -----------------------------------------------------------------
    def _text(self, request: GenerationRequest) -> str:
        params = request.params
        if params.constraint is not None:
            if params.constraint.kind == "json_schema":
                return json.dumps(value_for(params.constraint.schema or {}))
            return '{"ok": true}'
        if params.temperature == 0:
            return self.reply
        rng = random.Random(params.seed)
        return " ".join(rng.choice(WORDS) for _ in range(8))

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        self.requests.append(request)
        return self._generate(request)

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        params = request.params
        ids = [ord(c) for c in self._text(request)] + [END_ID]
        finished = False
        self.running += 1
        try:
            for step, token in enumerate(ids):
                await asyncio.sleep(self.delay)  # a real engine yields between steps too
                top = tuple(
                    TopLogprob(i, chr(i), -1.0 - k)
                    for k, i in enumerate([token if token < END_ID else 32, 97, 98, 99, 100] * 4)
                )[: params.top_logprobs or 0]
                last = step + 1 == params.max_tokens or token == END_ID
                reason: Literal["stop", "length"] | None = None
                if last:
                    reason = "stop" if token == END_ID else "length"
                yield TokenEvent(token, -0.25, top, reason)
                if last:
                    finished = True
                    return
        finally:
            self.running -= 1
            if not finished:
                self.closed += 1

    def stats(self) -> EngineStats:
        return EngineStats(running=self.running, loaded_adapters=list(self.adapters))

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.started = False
