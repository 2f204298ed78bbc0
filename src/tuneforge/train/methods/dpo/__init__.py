"""DPO and its variants, on preference pairs."""

from tuneforge.train.methods.dpo.config import DPOConfig
from tuneforge.train.methods.method import Method

METHOD = Method(
    config=DPOConfig,
    data="preference",
    recipe=f"{__name__}.recipe:train_dpo",
    summary="DPO and its variants: cDPO, robust, hinge, IPO, reference-free, RPO.",
)
