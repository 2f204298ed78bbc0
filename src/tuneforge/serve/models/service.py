"""Model ids from clients are checked here before any engine sees them."""

from __future__ import annotations

import re

from tuneforge.serve.engine.base import Engine, ModelCard, ModelNotFound
from tuneforge.serve.models.schemas import Model, ModelList

# An id that looks like a path or URL is never a model name: refusing it here means no
# engine can be talked into opening a file or fetching from the hub for it.
# `ft:` ids (fine-tuned models of the jobs API) are the one scheme-like prefix allowed.
PATHLIKE = re.compile(r"[/\\]|\.\.|^(?!ft:)[A-Za-z][A-Za-z0-9+.-]*:|^~|[\x00-\x1f]")
SHARED_OWNERS = {"tuneforge", "system"}
"""Owners of models every organisation may use: bases and adapters the operator registered.
Any other owner is an organisation (a job's fine-tuned model), seen by it alone."""


def visible(card: ModelCard, org: str) -> bool:
    return card.owned_by in SHARED_OWNERS or card.owned_by == org


def resolve(engine: Engine, model_id: str, org: str) -> ModelCard:
    """The model a request names, or 404 for ids that look like paths, are unknown or
    belong to another organisation (never 403: that would confirm it exists)."""
    if not model_id or PATHLIKE.search(model_id):
        raise ModelNotFound(model_id)
    card = engine.card(model_id)
    if not visible(card, org):
        raise ModelNotFound(model_id)
    return card


def to_schema(card: ModelCard) -> Model:
    return Model(
        id=card.id, created=card.created, owned_by=card.owned_by, parent=card.parent, root=card.root
    )


def list_models(engine: Engine, org: str) -> ModelList:
    return ModelList(data=[to_schema(card) for card in engine.models() if visible(card, org)])


def get_model(engine: Engine, model_id: str, org: str) -> Model:
    return to_schema(resolve(engine, model_id, org))
