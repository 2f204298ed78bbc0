"""POST /v1/chat/completions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from tuneforge.serve.chat import service
from tuneforge.serve.chat.schemas import ChatCompletionRequest
from tuneforge.serve.deps import EngineDep, OrgDep, SettingsDep

router = APIRouter()


@router.post("/v1/chat/completions")
async def create_chat_completion(
    body: ChatCompletionRequest,
    engine: EngineDep,
    settings: SettingsDep,
    org: OrgDep,
) -> Response:
    return await service.create(engine, settings, body, org)
