"""GET /v1/models and GET /v1/models/{id}."""

from __future__ import annotations

from fastapi import APIRouter

from tuneforge.serve.deps import EngineDep, OrgDep
from tuneforge.serve.models import service
from tuneforge.serve.models.schemas import Model, ModelList

router = APIRouter()


@router.get("/v1/models", response_model=ModelList)
def list_models(engine: EngineDep, org: OrgDep) -> ModelList:
    return service.list_models(engine, org)


# `:path` so an id with a slash reaches the handler (and a 404 model_not_found) instead
# of falling through to an unknown-route 404.
@router.get("/v1/models/{model_id:path}", response_model=Model)
def get_model(model_id: str, engine: EngineDep, org: OrgDep) -> Model:
    return service.get_model(engine, model_id, org)
