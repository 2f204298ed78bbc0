"""The FastAPI app of `tuneforge serve`: routes, auth, limits and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tuneforge import __version__
from tuneforge.serve import errors
from tuneforge.serve.adapters.router import router as adapters_router
from tuneforge.serve.auth import require_org
from tuneforge.serve.chat.router import router as chat_router
from tuneforge.serve.completions.router import router as completions_router
from tuneforge.serve.engine.base import Engine
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.limits import BodyLimit
from tuneforge.serve.models.router import router as models_router
from tuneforge.serve.settings import ServeSettings

_schema_router = APIRouter()


class Service(Protocol):
    """Work that starts and stops with the app (the jobs worker); blocking calls."""

    def start(self) -> None: ...

    def close(self) -> None: ...


# The schema is served behind auth too (every route is); FastAPI's own /docs are off.
@_schema_router.get("/openapi.json", include_in_schema=False)
def openapi_schema(request: Request) -> JSONResponse:
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


def create_app(
    engine: Engine,
    keys: KeyStore | None,
    settings: ServeSettings,
    routers: Sequence[APIRouter] = (),
    state: Mapping[str, Any] | None = None,
    services: Sequence[Service] = (),
    streamed_bodies: Mapping[str, int] | None = None,
) -> FastAPI:
    """`routers` and `state` let other control planes (the jobs API) mount their routes
    behind the same auth, limits and error handlers; `state` lands on `app.state`.
    `services` start after the engine and close before it, in reverse order.
    `streamed_bodies`: multipart upload paths -> their file size limit: their bodies
    stream to the route unbuffered instead of under the JSON bodies' limit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await engine.start()
        started: list[Service] = []
        try:
            for service in services:
                await run_in_threadpool(service.start)
                started.append(service)
            yield
        finally:
            for service in reversed(started):
                await run_in_threadpool(service.close)
            await engine.close()

    app = FastAPI(
        title="TuneForge",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine, app.state.keys, app.state.settings = engine, keys, settings
    # Auth on every router, so a route added later cannot forget it.
    auth = [Depends(require_org)]
    for name, value in (state or {}).items():
        setattr(app.state, name, value)
    own = (models_router, chat_router, completions_router, adapters_router, _schema_router)
    for router in (*own, *routers):
        app.include_router(router, dependencies=auth)
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, streamed=streamed_bodies or {})
    return app
