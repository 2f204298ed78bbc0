"""Pieces the online methods (ppo, grpo) share: prompt data, the reward source, and the
validation that measures the mean reward of greedy completions."""

from __future__ import annotations

import torch

from tuneforge.config import RunConfig
from tuneforge.errors import ConfigError
from tuneforge.train.rollouts import PromptRecord, RewardSource, load_prompts, sample
from tuneforge.train.setup import train_and_validation


def load_prompt_data(cfg: RunConfig) -> tuple[list[PromptRecord], list[PromptRecord]]:
    """(train prompts, validation prompts), validation held out like the other methods."""
    return train_and_validation(cfg, load_prompts, "prompts.jsonl")


def reward_source(cfg: RunConfig, log) -> RewardSource:
    try:
        return RewardSource(cfg.method.reward_function, cfg.method.reward_model, log)  # type: ignore[union-attr]
    except (ValueError, FileNotFoundError) as exc:
        raise ConfigError(f"method: {exc}") from None


def reward_evaluator(
    session, prompts: list[PromptRecord], rewards: RewardSource, max_new_tokens: int
):
    """Mean reward of greedy completions of the validation prompts. The loop keeps the
    checkpoint with the lowest eval_loss, so eval_loss is the negative mean reward."""

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        scores: list[float] = []
        for start in range(0, len(prompts), 16):
            records = prompts[start : start + 16]
            _, completions = sample(
                session.model, session.accelerator, session.tokenizer, records, 1,
                max_new_tokens, temperature=0.0,
            )  # fmt: skip
            scores += rewards(records, completions)
        mean = sum(scores) / len(scores)
        return {"eval_loss": -mean, "eval_reward_mean": mean}

    return evaluate
