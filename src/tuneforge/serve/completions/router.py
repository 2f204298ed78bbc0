"""POST /v1/completions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from tuneforge.serve.completions import service
from tuneforge.serve.completions.schemas import CompletionRequest
from tuneforge.serve.deps import EngineDep, OrgDep, SettingsDep

router = APIRouter()


@router.post("/v1/completions")
async def create_completion(
    body: CompletionRequest,
    engine: EngineDep,
    settings: SettingsDep,
    org: OrgDep,
) -> Response:
    return await service.create(engine, settings, body, org)
