"""Reward functions for the online-method tests, importable as 'tests.toy_rewards:...'."""

from __future__ import annotations


def yes_share(prompts: list[str], completions: list[str], **columns) -> list[float]:
    """Share of the completion's words that are 'yes'."""
    scores = []
    for completion in completions:
        words = completion.lower().replace(".", " ").split()
        scores.append(sum(w == "yes" for w in words) / max(len(words), 1))
    return scores
