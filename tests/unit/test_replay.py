"""Replay beside every batch (train/replay.py): which examples are drawn, how many tokens,
the scale that makes replay its own kind, and splits that keep the sums."""

from __future__ import annotations

import random

import pytest

from tuneforge.data import IGNORE, BatchPlan, TokenizedExample
from tuneforge.train.replay import MixedBatch, ReplayPlan, replay_indices


class StartAt:
    """An rng whose draw of the start is fixed."""

    def __init__(self, start: int):
        self.start = start

    def randrange(self, n: int) -> int:
        return self.start


def test_replay_indices_by_hand():
    """lengths 4, 6, 5: from the first with a budget of 12, 4 then 10 tokens (short by
    2); the third would overshoot by 3, so [0, 1]. From the third (the order is a cycle):
    5, then 9 (short by 3), then 15 (over by 3, not more than 3): [2, 0, 1]."""
    order, lengths = [0, 1, 2], [4, 6, 5]
    assert replay_indices(order, lengths, 12, StartAt(0)) == [0, 1]
    assert replay_indices(order, lengths, 12, StartAt(2)) == [2, 0, 1]
    assert replay_indices(order, lengths, 0.5, StartAt(1)) == [1]  # at least one
    assert replay_indices(order, lengths, 1000, StartAt(1)) == [1, 2, 0]  # each at most once
    assert replay_indices([2, 0, 1], lengths, 9, StartAt(0)) == [2, 0]  # the order's, not 0, 1, 2


def examples(n: int, seed: int, lo: int = 3, hi: int = 12, prompt: bool = True):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ids = [rng.randrange(1, 30) for _ in range(rng.randint(lo, hi))]
        start = rng.randint(0, len(ids) - 2) if prompt else 0
        targets = [ids[t + 1] if t >= start else IGNORE for t in range(len(ids) - 1)]
        out.append(TokenizedExample(ids, targets + [IGNORE]))
    return out


@pytest.fixture
def plan():
    task = BatchPlan(examples(24, 0), 4, 0, seed=7, max_length=64)
    return ReplayPlan(task, examples(40, 1, 2, 6, prompt=False), 0.5, 0, seed=7)


def test_every_batch_gets_about_ratio_times_its_tokens(plan):
    longest = max(len(e.input_ids) for e in plan.examples)
    assert plan.num_batches == plan.plan.num_batches == 6
    for i in range(plan.num_batches):
        batch = plan.batch(0, i)
        budget = 0.5 * batch.task.n_tokens
        assert abs(batch.replay.n_tokens - budget) <= longest / 2
        assert batch.n_tokens == batch.task.n_tokens + batch.replay.n_tokens
        assert batch.n_units == batch.task.n_units
        # ratio x the task's units per replay trained token
        scale = 0.5 * batch.task.n_units / batch.replay.n_trained
        assert batch.replay_scale == pytest.approx(scale)


def test_draws_are_a_pure_function_of_seed_epoch_and_index(plan):
    twin = ReplayPlan(plan.plan, plan.examples, 0.5, 0, seed=7)
    ids = lambda p, e, i: p.batch(e, i).replay.input_ids.tolist()  # noqa: E731
    assert ids(twin, 1, 3) == ids(plan, 1, 3)  # a resumed run draws the same
    draws = {str(ids(plan, e, i)) for e in range(3) for i in range(plan.num_batches)}
    assert len(draws) > 12  # and batches draw differently


def test_a_split_keeps_the_units_the_tokens_and_the_scale(plan):
    batch = plan.batch(0, 0)
    parts = batch.split(16)
    tasks = [p for p in parts if p.task is not None]
    replays = [p for p in parts if p.replay is not None]
    assert len(tasks) > 1 and len(replays) > 1 and len(parts) == len(tasks) + len(replays)
    assert all(p.replay is None for p in tasks) and all(p.task is None for p in replays)
    assert sum(p.n_units for p in parts) == batch.n_units  # replay parts count no units
    assert sum(p.n_tokens for p in parts) == batch.n_tokens
    assert sum(p.replay.n_trained for p in replays) == batch.replay.n_trained
    assert {p.replay_scale for p in parts} == {batch.replay_scale}


def test_the_wrapped_plans_state_passes_through():
    class Stateful:
        num_batches = 1
        loaded = None

        def state_dict(self):
            return {"rollout": 3}

        def load_state_dict(self, state):
            self.loaded = state

    inner = Stateful()
    wrapped = ReplayPlan(inner, examples(3, 0), 1.0, 0, seed=0)
    assert wrapped.state_dict() == {"rollout": 3}
    wrapped.load_state_dict({"rollout": 4})
    assert inner.loaded == {"rollout": 4}
    task = BatchPlan(examples(4, 0), 2, 0, seed=0, max_length=64)
    assert ReplayPlan(task, examples(3, 0), 1.0, 0, seed=0).state_dict() is None


def test_a_mixed_batch_moves_both_parts():
    import torch

    batch = ReplayPlan(BatchPlan(examples(4, 0), 2, 0, 0, 64), examples(3, 1), 1.0, 0, 0)
    moved = batch.batch(0, 0).to(torch.device("cpu"))
    assert isinstance(moved, MixedBatch) and moved.task is not None and moved.replay is not None
