"""A reward model as judge: each reply scored in its conversation, the higher score wins.

The reward model scores a reply alone, never beside the other one, so there is no order to
swap: one scoring stands for both orders (an LLM judge needs two, llm.py). Equal scores
are a tie. The model is loaded once per process, however many adapters are evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tuneforge.eval.tasks.preference import beats
from tuneforge.log import info
from tuneforge.models.reward import load_reward_model, score_conversations


@lru_cache(maxsize=1)
def _load(path: str):
    return load_reward_model(path, info)


class RewardModelJudge:
    def __init__(self, config, batch_size: int = 8):
        """`config`: a config.eval.JudgeConfig with reward_model."""
        self.model, self.tokenizer = _load(str(config.reward_model))
        self.batch_size = batch_size

    def compare(
        self, prompts: Sequence[list[dict]], tuned: Sequence[str], base: Sequence[str]
    ) -> tuple[list[float], list[dict[str, Any]]]:
        """(outcome per pair, both replies' scores per pair)."""
        conversations = [
            [*prompt, {"role": "assistant", "content": reply}]
            for replies in (tuned, base)
            for prompt, reply in zip(prompts, replies, strict=True)
        ]
        scores = score_conversations(self.model, self.tokenizer, conversations, self.batch_size)
        tuned_scores, base_scores = scores[: len(prompts)], scores[len(prompts) :]
        outcomes = [beats(t, b) for t, b in zip(tuned_scores, base_scores, strict=True)]
        details = [
            {"tuned_score": t, "base_score": b}
            for t, b in zip(tuned_scores, base_scores, strict=True)
        ]
        return outcomes, details
