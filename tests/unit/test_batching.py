"""Batch plans and collation: every example once per epoch, deterministic plans,
little padding with length grouping, and packed rows whose positions restart."""

from __future__ import annotations

import random

import torch

from tuneforge.data import (
    IGNORE,
    BatchPlan,
    TokenizedExample,
    collate,
    collate_packed,
    plan_batches,
    plan_packed_batches,
)

PAD = 0


def example(length: int, first_id: int = 1, trained_from: int = 0) -> TokenizedExample:
    ids = list(range(first_id, first_id + length))
    targets = [ids[t + 1] if trained_from <= t < length - 1 else IGNORE for t in range(length)]
    return TokenizedExample(ids, targets)


def lengths(n: int = 200, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(4, 300) for _ in range(n)]


def flat(batches) -> list[int]:
    return [i for batch in batches for i in batch]


def test_plan_covers_each_example_once_and_is_deterministic():
    sizes = lengths()
    for group in (True, False):
        plan = plan_batches(sizes, 8, seed=1, epoch=0, group_by_length=group)
        assert sorted(flat(plan)) == list(range(len(sizes)))
        assert all(len(batch) == 8 for batch in plan)  # 200 = 25 x 8
        assert plan == plan_batches(sizes, 8, seed=1, epoch=0, group_by_length=group)
        assert plan != plan_batches(sizes, 8, seed=1, epoch=1, group_by_length=group)
        assert plan != plan_batches(sizes, 8, seed=2, epoch=0, group_by_length=group)


def test_length_grouping_cuts_padding():
    sizes = lengths()

    def padding(plan):
        return sum(len(b) * max(sizes[i] for i in b) - sum(sizes[i] for i in b) for b in plan)

    grouped = plan_batches(sizes, 8, seed=0, epoch=0, group_by_length=True)
    shuffled = plan_batches(sizes, 8, seed=0, epoch=0, group_by_length=False)
    assert padding(grouped) < padding(shuffled) / 4


def test_without_grouping_small_batches_split_big_ones():
    """What batch x accumulation equivalence relies on: batch 8 is four batches of 2."""
    sizes = lengths(40)
    big = plan_batches(sizes, 8, seed=3, epoch=0, group_by_length=False)
    small = plan_batches(sizes, 2, seed=3, epoch=0, group_by_length=False)
    assert big == [flat(small[i : i + 4]) for i in range(0, len(small), 4)]


def test_packed_plan_fills_rows_without_splitting_examples():
    sizes = lengths(100, seed=5)
    plan = plan_packed_batches(sizes, max_length=512, batch_size=4, seed=0, epoch=0)
    rows = [row for batch in plan for row in batch]
    assert sorted(flat(rows)) == list(range(len(sizes)))
    assert all(sum(sizes[i] for i in row) <= 512 for row in rows)
    assert len(rows) <= sum(sizes) // 512 + 3  # best-fit decreasing wastes little
    assert all(len(batch) == 4 for batch in plan[:-1])
    assert plan == plan_packed_batches(sizes, 512, 4, seed=0, epoch=0)


def test_collate_pads_right_with_a_mask():
    batch = collate([example(3, trained_from=1), example(10, first_id=50)], PAD)
    assert batch.input_ids.shape == (2, 16)  # rounded up to a multiple of 8
    assert batch.input_ids[0].tolist()[:4] == [1, 2, 3, PAD]
    assert batch.attention_mask.sum(dim=1).tolist() == [3, 10]
    assert (batch.targets[batch.attention_mask == 0] == IGNORE).all()
    assert batch.position_ids is None
    assert (batch.n_tokens, batch.n_trained) == (13, 1 + 9)


def test_collate_packed_restarts_positions_per_example():
    rows = [[example(3), example(4, first_id=10)], [example(5, first_id=20)]]
    batch = collate_packed(rows, PAD)
    assert batch.attention_mask is None
    assert batch.input_ids.shape == (2, 8)
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1, 2, 3, 0], [0, 1, 2, 3, 4, 0, 1, 2]]
    assert batch.input_ids[0].tolist() == [1, 2, 3, 10, 11, 12, 13, PAD]
    # Targets never cross an example boundary: the last token of each example has none.
    assert batch.targets[0].tolist() == [2, 3, IGNORE, 11, 12, 13, IGNORE, IGNORE]
    assert (batch.n_tokens, batch.n_trained) == (12, 2 + 3 + 4)


def test_batch_plan_collates_on_demand():
    examples = [example(n) for n in (5, 9, 3, 7, 2)]
    plan = BatchPlan(examples, batch_size=2, pad_id=PAD, seed=0, max_length=16)
    assert plan.num_batches == 3
    seen = sum(plan.batch(0, i).n_tokens for i in range(plan.num_batches))
    assert seen == 5 + 9 + 3 + 7 + 2
    packed = BatchPlan(examples, batch_size=2, pad_id=PAD, seed=0, max_length=16, packing=True)
    assert sum(packed.batch(0, i).n_tokens for i in range(packed.num_batches)) == seen
    assert isinstance(packed.batch(0, 0).position_ids, torch.Tensor)
