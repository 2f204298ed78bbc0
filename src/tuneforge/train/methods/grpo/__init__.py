"""GRPO, on prompts."""

from tuneforge.train.methods.grpo.config import GRPOConfig
from tuneforge.train.methods.method import Method

METHOD = Method(
    config=GRPOConfig,
    data="prompts",
    recipe=f"{__name__}.recipe:train_grpo",
    summary="GRPO: group-relative advantages over sampled completions, KL to the reference.",
)
