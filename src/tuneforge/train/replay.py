"""Replay: general examples drawn beside every micro-batch of a method's data.

`ReplayPlan` wraps any method's plan (SFT batches, pairs, rollouts): batch i of epoch e
is the method's batch with replay examples of about `ratio` times its tokens beside it,
as a `MixedBatch`. Which replay examples is a pure function of (seed, epoch, i, the
batch's tokens), like every plan here, so resume replays exactly the same ones and
nothing is saved. A split for memory (train.max_tokens_per_forward) turns a mixed batch
into parts holding one kind each; every part keeps the whole micro-batch's replay
scale, so how it is split never changes the sum (train/forgetting.py has the maths).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from tuneforge.data.batching import Batch, collate
from tuneforge.data.templating import TokenizedExample


def replay_indices(
    order: Sequence[int], lengths: Sequence[int], budget: float, rng: random.Random
) -> list[int]:
    """Consecutive examples of `order` (the replay set in a seeded order, read as a
    cycle) from a start drawn by `rng`, until their tokens come nearest `budget`: at
    least one, every example at most once. Over many batches each example is drawn
    equally often.

    E.g. lengths 4, 6, 5 in that order, a start at the first and a budget of 12: 4 (short
    by 8), 4 + 6 = 10 (short by 2); adding 5 would overshoot by 3, more than 2, so [0, 1].
    """
    start, tokens = rng.randrange(len(order)), 0
    picked: list[int] = []
    for k in range(len(order)):
        i = order[(start + k) % len(order)]
        if picked and tokens + lengths[i] - budget > budget - tokens:
            break  # adding it would miss the budget by more than stopping here
        picked.append(i)
        tokens += lengths[i]
        if tokens >= budget:
            break
    return picked


@dataclass
class MixedBatch:
    """A micro-batch of the method's data (`task`) and the replay examples drawn for it;
    after a split, a part holds one of the two (the other None)."""

    task: Any | None
    replay: Batch | None
    replay_scale: float
    """What each summed replay NLL is multiplied by: ratio * U / R for the micro-batch's
    task units U and replay trained tokens R, so the micro-batch adds ratio x its mean
    replay NLL per task unit."""

    @property
    def n_units(self) -> int:
        """The method's units: replay is normalised on its own (replay_scale)."""
        return 0 if self.task is None else self.task.n_units

    @property
    def n_tokens(self) -> int:
        return sum(part.n_tokens for part in self._parts())

    @property
    def n_trained(self) -> int:
        return sum(part.n_trained for part in self._parts())

    def split(self, max_tokens: int | None) -> list[MixedBatch]:
        """The task's parts, then the replay's, each on its own (a forward pass each)."""
        tasks = self.task.split(max_tokens) if self.task is not None else []
        replays = self.replay.split(max_tokens) if self.replay is not None else []
        return [MixedBatch(t, None, self.replay_scale) for t in tasks] + [
            MixedBatch(None, r, self.replay_scale) for r in replays
        ]

    def to(self, device: torch.device) -> MixedBatch:
        return MixedBatch(
            None if self.task is None else self.task.to(device),
            None if self.replay is None else self.replay.to(device),
            self.replay_scale,
        )

    def _parts(self) -> list[Any]:
        return [part for part in (self.task, self.replay) if part is not None]


class ReplayPlan:
    """A method's plan with replay examples beside every batch (see the module doc)."""

    def __init__(
        self,
        plan: Any,
        examples: Sequence[TokenizedExample],
        ratio: float,
        pad_id: int,
        seed: int,
    ):
        self.plan, self.examples, self.ratio, self.pad_id = plan, examples, ratio, pad_id
        self.seed = seed
        self.num_batches = plan.num_batches
        self._lengths = [len(e.input_ids) for e in examples]
        self._order = list(range(len(examples)))
        random.Random(seed).shuffle(self._order)

    def batch(self, epoch: int, index: int) -> MixedBatch:
        task = self.plan.batch(epoch, index)
        rng = random.Random((self.seed * 1_000_003 + epoch) * 1_000_003 + index)
        picked = replay_indices(self._order, self._lengths, self.ratio * task.n_tokens, rng)
        replay = collate([self.examples[i] for i in picked], self.pad_id)
        return MixedBatch(task, replay, self.ratio * task.n_units / replay.n_trained)

    # The wrapped plan's own state (online methods: the rollout in use) goes into
    # checkpoints as before; replay has none.
    def state_dict(self) -> dict[str, Any] | None:
        return self.plan.state_dict() if hasattr(self.plan, "state_dict") else None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.plan, "load_state_dict"):
            self.plan.load_state_dict(state)
