"""Model ids from clients are checked here before any engine sees them."""

from __future__ import annotations

import re

from tuneforge.serve.engine.base import Engine, ModelCard, ModelNotFound
from tuneforge.serve.models.schemas import Model, ModelList

# An id that looks like a path or URL is never a model name: refusing it here means no
# engine can be talked into opening a file or fetching from the hub for it.
PATHLIKE = re.compile(r"[/\\]|\.\.|^[A-Za-z][A-Za-z0-9+.-]*:|^~|[\x00-\x1f]")


def resolve(engine: Engine, model_id: str) -> ModelCard:
    if not model_id or PATHLIKE.search(model_id):
        raise ModelNotFound(model_id)
    return engine.card(model_id)


def to_schema(card: ModelCard) -> Model:
    return Model(
        id=card.id, created=card.created, owned_by=card.owned_by, parent=card.parent, root=card.root
    )


def list_models(engine: Engine) -> ModelList:
    return ModelList(data=[to_schema(card) for card in engine.models()])


def get_model(engine: Engine, model_id: str) -> Model:
    return to_schema(resolve(engine, model_id))
