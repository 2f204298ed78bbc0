"""Pieces the online methods (ppo, grpo) share: prompt data, the reward source, the
reference, the rollout plan, and the validation that measures the mean reward of
greedy completions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.data.prompts import PromptExample
from tuneforge.data.readers import read_examples
from tuneforge.errors import ConfigError
from tuneforge.models import load_tokenizer
from tuneforge.train.loop import Evaluator
from tuneforge.train.reference import Reference
from tuneforge.train.rollouts import RewardSource, Rollout, RolloutPlan, sample
from tuneforge.train.session import Session, open_session
from tuneforge.train.setup import train_and_validation


@dataclass
class OnlineTraining:
    session: Session
    prompts: list[PromptExample]
    validation: list[PromptExample]
    rewards: RewardSource
    reference: Reference | None
    """The policy's starting point; None when method.beta is 0 (no KL term)."""

    def plan(
        self, make_rollout: Callable[[list[PromptExample]], Rollout], carry: Any = None
    ) -> RolloutPlan:
        cfg = self.session.cfg
        return RolloutPlan(
            self.prompts, cfg.train.batch_size, cfg.train.seed,
            cfg.method.updates_per_rollout, make_rollout, carry,
        )  # fmt: skip

    def fit(self, plan: RolloutPlan, loss_fn) -> dict[str, Any]:
        evaluate = None
        if self.validation:
            max_new_tokens = self.session.cfg.method.max_new_tokens
            evaluate = reward_evaluator(self.session, self.validation, self.rewards, max_new_tokens)
        data = {"prompts": len(self.prompts), "validation_prompts": len(self.validation)}
        return self.session.fit(plan, loss_fn, evaluate, data)


def start_online_training(cfg: RunConfig, resume: bool, log, auxiliary=None) -> OnlineTraining:
    """Load the prompts and the reward source (every error before the run directory
    exists), open the session (with the method's `auxiliary` modules, see
    session.open_session) and set up the reference."""
    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    prompts, validation = load_prompt_data(cfg)
    rewards = reward_source(cfg, log)
    try:
        rewards.check_columns({k for p in (*prompts, *validation) for k in p.columns})
    except ValueError as exc:
        raise ConfigError(f"method: {exc}") from None
    session = open_session(cfg, tokenizer, resume, log, auxiliary=auxiliary, generates=True)
    reference = None
    if cfg.method.beta > 0:
        reference = Reference(
            session.model, session.accelerator, session.direct_head, session.uses_adapter,
            session.autocast,
        )  # fmt: skip
    return OnlineTraining(session, prompts, validation, rewards, reference)


def load_prompt_data(cfg: RunConfig) -> tuple[list[PromptExample], list[PromptExample]]:
    """(train prompts, validation prompts), validation held out like the other methods."""
    return train_and_validation(
        cfg,
        lambda path: read_examples(path, kind="prompts", format=cfg.data.format),
        "prompts.jsonl",
    )


def reward_source(cfg: RunConfig, log) -> RewardSource:
    try:
        return RewardSource(
            cfg.method.reward_function, cfg.method.reward_model, log, cfg.method.reward_kwargs
        )
    except (ValueError, FileNotFoundError) as exc:
        raise ConfigError(f"method: {exc}") from None


def reward_evaluator(
    session, prompts: list[PromptExample], rewards: RewardSource, max_new_tokens: int
) -> Evaluator:
    """Mean reward of greedy completions of the validation prompts; the best checkpoint
    has the highest."""

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
        return {"eval_reward_mean": mean}

    return Evaluator(evaluate, metric="eval_reward_mean", higher_is_better=True)
