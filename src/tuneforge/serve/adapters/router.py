"""POST /v1/adapters and DELETE /v1/adapters/{id}; admin keys only."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tuneforge.serve.adapters.schemas import Deleted, LoadAdapter
from tuneforge.serve.auth import require_admin
from tuneforge.serve.deps import EngineDep
from tuneforge.serve.engine.base import ModelNotFound
from tuneforge.serve.errors import APIError
from tuneforge.serve.models.schemas import Model
from tuneforge.serve.models.service import PATHLIKE, to_schema

router = APIRouter(dependencies=[Depends(require_admin)])


@router.post("/v1/adapters", response_model=Model)
def load_adapter(body: LoadAdapter, engine: EngineDep) -> Model:
    # The name becomes a model id, so it follows the same rules as ids clients send.
    if PATHLIKE.search(body.lora_name):
        raise APIError(
            400, "lora_name may not contain '/', '\\\\', '..' or a URL scheme.", param="lora_name"
        )
    try:
        card = engine.register_adapter(body.lora_name, body.lora_path)
    except (OSError, ValueError) as exc:
        # An unreadable path (too long, a NUL byte, no permission) is the caller's to fix.
        raise APIError(
            400, f"Cannot read the adapter at lora_path: {exc}", param="lora_path"
        ) from exc
    return to_schema(card)


@router.delete("/v1/adapters/{adapter_id:path}", response_model=Deleted)
def unload_adapter(adapter_id: str, engine: EngineDep) -> Deleted:
    if PATHLIKE.search(adapter_id):
        raise ModelNotFound(adapter_id)
    engine.unregister_adapter(adapter_id)
    return Deleted(id=adapter_id)
