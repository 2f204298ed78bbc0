"""Supervised fine-tuning."""

from tuneforge.train.methods.method import Method
from tuneforge.train.methods.sft.config import SFTConfig

METHOD = Method(
    config=SFTConfig,
    data="sft",
    recipe=f"{__name__}.recipe:train_sft",
    summary="Supervised fine-tuning: next-token loss on the assistant's tokens.",
)
