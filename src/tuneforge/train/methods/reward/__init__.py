"""Reward models, on preference pairs."""

from tuneforge.train.methods.method import Method
from tuneforge.train.methods.reward.config import RewardConfig

METHOD = Method(
    config=RewardConfig,
    data="preference",
    recipe=f"{__name__}.recipe:train_reward",
    summary="A reward model: backbone with a scalar head, Bradley-Terry on pairs.",
    language_head=False,
)
