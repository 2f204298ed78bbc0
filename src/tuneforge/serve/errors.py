"""OpenAI error objects, and the handlers that turn every failure into one.

Clients (the official SDKs included) read `error.message`, `error.type`, `error.param`
and `error.code`; FastAPI's own `{"detail": ...}` shape would reach them as an opaque
blob, so every path out of the app, including the last-resort one, answers in this shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuneforge.serve.engine.base import EngineError

log = logging.getLogger("tuneforge.serve")

# Parameters of OpenAI's API that this server knows and refuses: a client that sends one
# relies on it, so answering without it would be silently wrong.
UNSUPPORTED_PARAMS = frozenset(
    {
        "logit_bias",
        "parallel_tool_calls",
        "modalities",
        "audio",
        "prediction",
        "service_tier",
        "store",
        "reasoning_effort",
        "web_search_options",
        "functions",
        "function_call",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    }
)

STATUS_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
}


class APIError(Exception):
    """A refusal raised by routes and services; becomes one OpenAI error response."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type or STATUS_TYPES.get(status, "server_error")


def error_body(
    message: str, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    param: str | None = None,
    code: str | None = None,
    type: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind = type or STATUS_TYPES.get(status, "server_error")
    return JSONResponse(error_body(message, kind, param, code), status_code=status, headers=headers)


def engine_error_body(exc: EngineError) -> dict[str, Any]:
    return error_body(
        exc.message, STATUS_TYPES.get(exc.status, "server_error"), exc.param, exc.code
    )


def dotted(loc: Sequence[int | str]) -> str | None:
    """`("body", "messages", 0, "content")` -> `messages[0].content`; None for the body."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "path", "query", "header") else list(loc)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or None


def validation_error(errors: Sequence[Any]) -> APIError:
    """The one error a person should fix first, as OpenAI names it."""
    errors = [dict(e) for e in errors]
    if not errors:
        return APIError(400, "Invalid request.")
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return APIError(
            400,
            "We could not parse the JSON body of your request "
            f"({detail} at position {first['loc'][-1]}). The OpenAI API expects "
            "a JSON payload, but what was sent was not valid JSON.",
        )
    # An unknown argument is reported first, as OpenAI does: it usually explains the rest.
    extras = [e for e in errors if e.get("type") == "extra_forbidden"]
    if extras:
        param = dotted(extras[0]["loc"])
        name = str(extras[0]["loc"][-1])
        if len(extras[0]["loc"]) == 2 and name in UNSUPPORTED_PARAMS:
            return APIError(
                400,
                f"'{name}' is not supported by this server.",
                param=param,
                code="unsupported_parameter",
            )
        return APIError(400, f"Unrecognized request argument supplied: {param}", param=param)
    # A union (`stop`: str or list) fails once per member, each with the member's name
    # appended to the location; the shared prefix of one field's errors is the field.
    loc = list(first["loc"])
    field = loc[:2]
    for other in errors[1:]:
        if list(other["loc"][:2]) != field:
            continue
        common = 0
        for a, b in zip(loc, other["loc"], strict=False):
            if a != b:
                break
            common += 1
        loc = loc[:common]
    param = dotted(loc)
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "missing":
        message = f"Missing required parameter: '{param}'." if param else "Missing body."
    elif param:
        message = f"Invalid value for '{param}': {msg}."
    else:
        message = f"Invalid request body: {msg}. Expected a JSON object."
    return APIError(400, message, param=param)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc.status, exc.message, exc.param, exc.code, exc.type)


async def _engine_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EngineError)
    return JSONResponse(engine_error_body(exc), status_code=exc.status)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return await _api_error(request, validation_error(exc.errors()))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}."
        return error_response(404, message, code="unknown_url")
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
        return error_response(
            405, message, code="method_not_allowed", headers=dict(exc.headers or {})
        )
    return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log, never to the client.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        500, "The server had an error while processing your request.", type="server_error"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(EngineError, _engine_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
