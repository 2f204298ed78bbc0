"""Pieces the online methods (ppo, grpo) share: prompt data, the reward source, and the
validation that measures the mean reward of greedy completions."""

from __future__ import annotations

import random

import torch

from tuneforge.config import RunConfig
from tuneforge.errors import ConfigError
from tuneforge.train.rollouts import PromptRecord, RewardSource, load_prompts, sample


def load_prompt_data(cfg: RunConfig) -> tuple[list[PromptRecord], list[PromptRecord]]:
    """(train prompts, validation prompts), validation held out like the other methods."""
    if cfg.data.train is None:
        raise ConfigError(
            "data.train: missing: set the prompts file, e.g. data.train=prompts.jsonl"
        )
    prompts = load_prompts(cfg.data.train)
    validation = load_prompts(cfg.data.validation) if cfg.data.validation else []
    if not validation and cfg.data.validation_split > 0:
        order = list(range(len(prompts)))
        random.Random(cfg.train.seed).shuffle(order)
        held = set(order[: max(1, round(len(prompts) * cfg.data.validation_split))])
        validation = [prompts[i] for i in sorted(held)]
        prompts = [p for i, p in enumerate(prompts) if i not in held]
    return prompts, validation


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
