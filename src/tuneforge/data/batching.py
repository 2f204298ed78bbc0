"""Batch plans and collation: length-grouped batches, or packed rows without
cross-example attention.

A plan is a pure function of (lengths, seed, epoch), so resuming at batch k of epoch e
replays exactly the batches a straight run would have seen.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tuneforge.data.templating import IGNORE, TokenizedExample

MEGABATCH_FACTOR = 50
"""Length grouping sorts within windows of this many batches, keeping batch order random."""
PAD_MULTIPLE = 8
"""Rows are padded to a multiple of this, which tensor-core and SIMD kernels prefer."""


@dataclass
class Batch:
    input_ids: torch.Tensor  # [rows, width]
    targets: torch.Tensor  # [rows, width], IGNORE where no loss
    attention_mask: torch.Tensor | None  # [rows, width]; None for packed rows
    position_ids: torch.Tensor | None  # [rows, width]; restart at 0 for each packed example
    row_tokens: torch.Tensor  # [rows] non-padding tokens per row (padding is always at the end)

    @property
    def n_tokens(self) -> int:
        """Non-padding tokens fed through the model."""
        return int(self.row_tokens.sum())

    @property
    def n_trained(self) -> int:
        """Tokens that carry loss."""
        return int((self.targets != IGNORE).sum())

    @property
    def n_units(self) -> int:
        """What the loss is summed over, so the loop can average it: trained tokens."""
        return self.n_trained

    def split(self, max_tokens: int | None) -> list[Batch]:
        """Row chunks of at most max_tokens (rows x width, at least one row each), each
        trimmed to its longest row. The summed loss over the chunks equals the batch's,
        so splitting lowers peak activation memory without changing the gradient."""
        rows, width = self.input_ids.shape
        per_chunk = max(1, (max_tokens or rows * width) // width)
        if per_chunk >= rows:
            return [self]
        return [self.row_slice(i, min(i + per_chunk, rows)) for i in range(0, rows, per_chunk)]

    def row_slice(self, start: int, stop: int) -> Batch:
        """Rows start..stop, trimmed to their longest row."""
        width = _round_up(int(self.row_tokens[start:stop].max()), PAD_MULTIPLE)
        cut = lambda t: None if t is None else t[start:stop, :width]  # noqa: E731
        return Batch(
            cut(self.input_ids),
            cut(self.targets),
            cut(self.attention_mask),
            cut(self.position_ids),
            self.row_tokens[start:stop],
        )

    def to(self, device: torch.device) -> Batch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(
            move(self.input_ids),
            move(self.targets),
            move(self.attention_mask),
            move(self.position_ids),
            self.row_tokens,
        )


def plan_batches(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int, group_by_length: bool
) -> list[list[int]]:
    """Example indices per batch for one epoch. With grouping, indices are shuffled,
    cut into windows of MEGABATCH_FACTOR batches, and sorted by length inside each
    window, so batches hold similar lengths (little padding) yet arrive in random order."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        window = batch_size * MEGABATCH_FACTOR
        order = [
            i
            for start in range(0, len(order), window)
            for i in sorted(order[start : start + window], key=lambda i: -lengths[i])
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def plan_packed_batches(
    lengths: Sequence[int], max_length: int, batch_size: int, seed: int, epoch: int
) -> list[list[list[int]]]:
    """Rows of example indices filled best-fit-decreasing up to max_length (examples are
    never split), shuffled per epoch and grouped batch_size rows per batch."""
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (space left, row), kept sorted for bisection
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        slot = bisect.bisect_left(free, (lengths[i], -1))
        if slot == len(free):
            rows.append([i])
            space, row = max_length, len(rows) - 1
        else:
            space, row = free.pop(slot)
            rows[row].append(i)
        bisect.insort(free, (space - lengths[i], row))
    rng = random.Random(seed * 1_000_003 + epoch)
    rng.shuffle(rows)
    return [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]


def collate(examples: Sequence[TokenizedExample], pad_id: int) -> Batch:
    """Right-padded batch with an attention mask."""
    width = _round_up(max(len(e.input_ids) for e in examples), PAD_MULTIPLE)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    targets = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        targets[row, :n] = torch.tensor(example.targets)
        mask[row, :n] = 1
    return Batch(ids, targets, mask, None, mask.sum(dim=1))


def collate_packed(rows: Sequence[Sequence[TokenizedExample]], pad_id: int) -> Batch:
    """Packed rows. No attention mask: position ids restart at 0 for every example, and
    transformers turns that into a block-diagonal causal mask, so no token attends to
    another example. Padding at a row's end forms its own segment with no targets."""
    lengths = torch.tensor([sum(len(e.input_ids) for e in row) for row in rows])
    width = _round_up(int(lengths.max()), PAD_MULTIPLE)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    targets = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for example in row:
            n = len(example.input_ids)
            ids[r, start : start + n] = torch.tensor(example.input_ids)
            targets[r, start : start + n] = torch.tensor(example.targets)
            positions[r, start : start + n] = torch.arange(n)
            start += n
        positions[r, start:] = torch.arange(width - start)
    return Batch(ids, targets, None, positions, lengths)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


class BatchPlan:
    """The batches of every epoch, collated on demand: `plan.batch(epoch, i)`."""

    def __init__(
        self,
        examples: Sequence[TokenizedExample],
        batch_size: int,
        pad_id: int,
        seed: int,
        max_length: int,
        packing: bool = False,
        group_by_length: bool = True,
    ):
        self.examples, self.batch_size, self.pad_id, self.seed = examples, batch_size, pad_id, seed
        self.max_length, self.packing, self.group_by_length = max_length, packing, group_by_length
        self._lengths = [len(e.input_ids) for e in examples]
        self._epoch, self._plan = -1, []
        self.num_batches = len(self._plan_for(0))

    def _plan_for(self, epoch: int):
        if epoch != self._epoch:
            if self.packing:
                self._plan = plan_packed_batches(
                    self._lengths, self.max_length, self.batch_size, self.seed, epoch
                )
            else:
                self._plan = plan_batches(
                    self._lengths, self.batch_size, self.seed, epoch, self.group_by_length
                )
            self._epoch = epoch
        return self._plan

    def batch(self, epoch: int, index: int) -> Batch:
        item = self._plan_for(epoch)[index]
        if self.packing:
            return collate_packed([[self.examples[i] for i in row] for row in item], self.pad_id)
        return collate([self.examples[i] for i in item], self.pad_id)
