"""ORPO, on preference pairs."""

from tuneforge.train.methods.method import Method
from tuneforge.train.methods.orpo.config import ORPOConfig

METHOD = Method(
    config=ORPOConfig,
    data="preference",
    recipe=f"{__name__}.recipe:train_orpo",
    summary="ORPO: SFT on the chosen reply plus an odds-ratio term; no reference model.",
)
