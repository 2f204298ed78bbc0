"""SimPO, on preference pairs."""

from tuneforge.train.methods.method import Method
from tuneforge.train.methods.simpo.config import SimPOConfig

METHOD = Method(
    config=SimPOConfig,
    data="preference",
    recipe=f"{__name__}.recipe:train_simpo",
    summary="SimPO: length-normalised rewards with a target margin; no reference model.",
)
