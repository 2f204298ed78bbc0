"""Refuse request bodies above the limit before anything parses them.

Content-Length is checked first (cheap, and honest clients send it); the body is then
read here, counting bytes, because a chunked upload or a lying header would otherwise
reach the JSON parser whole. A body under the limit is replayed to the app unchanged.

Uploads (`streamed`: multipart POST paths with their file size limit, e.g. /v1/files)
are not buffered: they pass through to the route as they arrive, counted, and are cut
off with a 413 naming the file once past their limit (plus the multipart framing), so a
file is never held in memory and a chunked upload of unbounded size cannot fill the
disk. The route holds the file itself to the exact limit as it writes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuneforge.serve.errors import error_body

# Multipart framing around an uploaded file: boundaries, part headers, other form fields.
MULTIPART_SLACK_BYTES = 64 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, streamed: Mapping[str, int] | None = None):
        self.app, self.max_bytes, self.streamed = app, max_bytes, dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        file_limit = self.streamed.get(scope["path"]) if scope["method"] == "POST" else None
        if file_limit is not None:
            await self._stream(scope, receive, send, file_limit)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._refuse(send, self.max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # gone before the body was sent
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(send, self.max_bytes)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as before

        await self.app(scope, replay, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, file_limit: int) -> None:
        """Pass the body through, counting; past the limit the app is told the client has
        gone, whatever it answers is dropped, and the client gets the 413."""
        limit = file_limit + MULTIPART_SLACK_BYTES
        if _declared_length(scope) > limit:
            await self._refuse(send, file_limit, upload=True)
            return
        size, exceeded, started = 0, False, False

        async def counted() -> Message:
            nonlocal size, exceeded
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # an answer to a body the app never got whole
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(send, file_limit, upload=True)

    async def _refuse(self, send: Send, limit: int, upload: bool = False) -> None:
        if upload:
            error = error_body(
                f"The file is larger than this server's limit of {limit} bytes for one upload.",
                "invalid_request_error", "file", "file_too_large",
            )  # fmt: skip
        else:
            error = error_body(
                f"The request body is larger than this server's limit of {limit} bytes.",
                "invalid_request_error", None, "request_too_large",
            )  # fmt: skip
        body = json.dumps(error).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
