"""What routes get from the app: the engine and the settings, set by create_app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tuneforge.serve.auth import require_org
from tuneforge.serve.engine.base import Engine
from tuneforge.serve.settings import ServeSettings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


# Annotated dependencies: routes declare `engine: EngineDep` (no call in a default).
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
# The caller's organisation (FastAPI runs require_org once per request, however often named).
OrgDep = Annotated[str, Depends(require_org)]
