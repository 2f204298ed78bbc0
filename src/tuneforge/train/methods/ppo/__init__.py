"""PPO, on prompts."""

from tuneforge.train.methods.method import Method
from tuneforge.train.methods.ppo.config import PPOConfig

METHOD = Method(
    config=PPOConfig,
    data="prompts",
    recipe=f"{__name__}.recipe:train_ppo",
    summary="PPO (RLHF): value head, per-token KL rewards, GAE, clipped updates.",
)
