"""Server-sent events in OpenAI's framing: `data: {json}\\n\\n` ... `data: [DONE]\\n\\n`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tuneforge.serve.engine.base import EngineError
from tuneforge.serve.errors import engine_error_body, error_body

log = logging.getLogger("tuneforge.serve")


def event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def framed(chunks: AsyncIterator[dict[str, Any]]) -> AsyncGenerator[str, None]:
    """Chunks as events, then [DONE]. The status line is already sent when an error
    happens mid-stream, so it travels as an error event, as OpenAI does."""
    try:
        async for chunk in chunks:
            yield event(chunk)
    except EngineError as exc:
        yield event(engine_error_body(exc))
    except Exception:
        log.exception("error while streaming")
        yield event(
            error_body("The server had an error while processing your request.", "server_error")
        )
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    yield "data: [DONE]\n\n"


class EventStream(StreamingResponse):
    """A stream that always closes its generator, and so the engine's iterators, even when
    the client hangs up mid-way (Starlette then only drops the reference)."""

    def __init__(self, chunks: AsyncIterator[dict[str, Any]]):
        self._events = framed(chunks)
        super().__init__(
            self._events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (ClientDisconnect, OSError):
            pass  # the client left; nothing to tell it
        finally:
            await self._events.aclose()
