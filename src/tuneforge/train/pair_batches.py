"""Preference pairs as batches: a pair is two sequences, prompt + chosen and prompt +
rejected, whose targets are the reply tokens only. A batch holds B pairs as 2B rows,
chosen rows first, so chosen and rejected go through the model in one forward pass; with
packing, each batch's pairs are packed whole into rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuneforge.data.batching import (
    Batch,
    collate,
    collate_packed,
    plan_batches,
    plan_packed_batches,
)
from tuneforge.data.templating import IGNORE, TokenizedExample
from tuneforge.models.logprobs import sequence_logps


@dataclass
class TokenizedPair:
    """Two sequences that go through the model together. For KTO, `chosen` is the
    labelled example and `rejected` the same prompt with another example's completion
    (the mismatched pair that estimates the KL reference point)."""

    chosen: TokenizedExample
    rejected: TokenizedExample
    margin: float | None = None
    desirable: bool | None = None

    @property
    def length(self) -> int:
        return max(len(self.chosen.input_ids), len(self.rejected.input_ids))


@dataclass
class PairBatch:
    """B pairs as one Batch of 2B rows (chosen rows first), with what the losses need."""

    sequences: Batch
    indices: torch.Tensor
    """[B] positions of the pairs in the dataset, to look up cached reference log-probs."""
    margins: torch.Tensor | None
    reference: torch.Tensor | None = None
    """[B, 2] reference log-probs (chosen, rejected) when precomputed."""
    desirable: torch.Tensor | None = None
    """[B] KTO labels."""
    segments: torch.Tensor | None = None
    """Packed batches: the sequence of each target token (pair i: chosen i, rejected
    B + i), in row-major order. None when each row is one sequence, chosen rows first."""
    row_pairs: list[list[int]] | None = None
    """Packed batches: the pairs each row holds (a pair never spans two rows)."""

    @property
    def precomputed_reference(self) -> torch.Tensor | None:
        """The cached reference log-probs, when every pair of the batch has them (the
        cache covers the pairs the run was planned to use: reference.precompute)."""
        if self.reference is None or bool(self.reference.isnan().any()):
            return None
        return self.reference

    @property
    def n_pairs(self) -> int:
        return len(self.indices)

    def logps(self, model, direct_head: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed reply log-probs, reply lengths) per sequence: [2B], chosen first."""
        return sequence_logps(model, self.sequences, direct_head, self.segments, 2 * self.n_pairs)

    @property
    def n_units(self) -> int:
        return self.n_pairs

    @property
    def n_tokens(self) -> int:
        return self.sequences.n_tokens

    @property
    def n_trained(self) -> int:
        return self.sequences.n_trained

    def split(self, max_tokens: int | None) -> list[PairBatch]:
        """Chunks of whole pairs of at most max_tokens (rows x width) each."""
        rows, width = self.sequences.input_ids.shape
        if self.row_pairs is not None:
            per_chunk = max(1, (max_tokens or rows * width) // width)
            if per_chunk >= rows:
                return [self]
            return [
                self._packed_rows(i, min(i + per_chunk, rows)) for i in range(0, rows, per_chunk)
            ]
        per_chunk = max(1, (max_tokens or rows * width) // (2 * width))
        if per_chunk >= self.n_pairs:
            return [self]
        return [
            self._pairs(i, min(i + per_chunk, self.n_pairs))
            for i in range(0, self.n_pairs, per_chunk)
        ]

    def _packed_rows(self, start: int, stop: int) -> PairBatch:
        assert self.row_pairs is not None and self.segments is not None
        pairs = [p for row in self.row_pairs[start:stop] for p in row]
        n, k = self.n_pairs, len(pairs)
        new_id = torch.full((2 * n,), -1, dtype=torch.long)
        for q, p in enumerate(pairs):
            new_id[p], new_id[n + p] = q, k + q
        token_rows = (self.sequences.targets != IGNORE).nonzero()[:, 0]
        keep = (token_rows >= start) & (token_rows < stop)
        order = torch.tensor(pairs)
        pick = lambda t: None if t is None else t[order.to(t.device)]  # noqa: E731
        position = {p: q for q, p in enumerate(pairs)}
        local = [[position[p] for p in row] for row in self.row_pairs[start:stop]]
        return PairBatch(
            self.sequences.row_slice(start, stop), self.indices[order], pick(self.margins),
            pick(self.reference), pick(self.desirable),
            new_id[self.segments[keep.to(self.segments.device)].cpu()], local,
        )  # fmt: skip

    def _pairs(self, start: int, stop: int) -> PairBatch:
        rows = torch.tensor(
            [*range(start, stop), *range(self.n_pairs + start, self.n_pairs + stop)]
        )
        seq = self.sequences
        width = int(seq.row_tokens[rows].max())
        pick = lambda t: None if t is None else t[rows, :width]  # noqa: E731
        part = lambda t: None if t is None else t[start:stop]  # noqa: E731
        sequences = Batch(
            pick(seq.input_ids), pick(seq.targets), pick(seq.attention_mask), None,
            seq.row_tokens[rows],
        )  # fmt: skip
        return PairBatch(
            sequences, self.indices[start:stop], part(self.margins), part(self.reference),
            part(self.desirable),
        )  # fmt: skip

    def to(self, device: torch.device) -> PairBatch:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return PairBatch(
            self.sequences.to(device), self.indices, move(self.margins), move(self.reference),
            move(self.desirable), move(self.segments), self.row_pairs,
        )  # fmt: skip


class PairPlan:
    """Batches of pairs for every epoch, length-grouped and collated on demand."""

    def __init__(
        self,
        pairs: list[TokenizedPair],
        batch_size: int,
        pad_id: int,
        seed: int,
        group_by_length: bool = True,
        reference: torch.Tensor | None = None,
        pack_width: int | None = None,
    ):
        """`pack_width`: pack each batch's pairs, whole, into rows of at most this many
        tokens (position ids restart per sequence, so nothing attends across sequences):
        the same sums as padded rows, without computing on padding."""
        self.pairs, self.batch_size, self.pad_id, self.seed = pairs, batch_size, pad_id, seed
        self.group_by_length, self.reference = group_by_length, reference
        self.pack_width = pack_width
        self._lengths = [p.length for p in pairs]
        self.num_batches = len(self._plan(0))

    def _plan(self, epoch: int) -> list[list[int]]:
        return plan_batches(self._lengths, self.batch_size, self.seed, epoch, self.group_by_length)

    def batch(self, epoch: int, i: int) -> PairBatch:
        return self.collate(self._plan(epoch)[i])

    def pairs_in_use(self, batches: int | None) -> list[list[int]]:
        """The batches of pair indices the first `batches` training batches use, in
        order (every pair, in dataset order, when None or a whole epoch or more: each
        epoch uses every pair)."""
        if batches is None or batches >= self.num_batches:
            size = self.batch_size
            return [
                list(range(i, min(i + size, len(self.pairs))))
                for i in range(0, len(self.pairs), size)
            ]
        return self._plan(0)[:batches]

    def in_order(self):
        """Every pair once, in dataset order (for evaluation and reference precompute)."""
        for start in range(0, len(self.pairs), self.batch_size):
            yield self.collate(list(range(start, min(start + self.batch_size, len(self.pairs)))))

    def collate(self, indices: list[int]) -> PairBatch:
        chosen = [self.pairs[i].chosen for i in indices]
        rejected = [self.pairs[i].rejected for i in indices]
        margins = [self.pairs[i].margin for i in indices]
        labels = [self.pairs[i].desirable for i in indices]
        segments, row_pairs = None, None
        if self.pack_width:
            sequences, segments, row_pairs = self._packed(chosen, rejected)
        else:
            sequences = collate(chosen + rejected, self.pad_id)
        return PairBatch(
            sequences,
            torch.tensor(indices),
            None if any(m is None for m in margins) else torch.tensor(margins, dtype=torch.float32),
            None if self.reference is None else self.reference[indices],
            None if any(d is None for d in labels) else torch.tensor(labels),
            segments,
            row_pairs,
        )

    def _packed(self, chosen, rejected):
        assert self.pack_width is not None
        sizes = [len(c.input_ids) + len(r.input_ids) for c, r in zip(chosen, rejected, strict=True)]
        rows = [
            row
            for batch in plan_packed_batches(
                sizes, max(self.pack_width, max(sizes)), len(sizes), 0, 0
            )
            for row in batch
        ]
        n = len(chosen)
        examples = [[e for p in row for e in (chosen[p], rejected[p])] for row in rows]
        segments = [
            sequence
            for row in rows
            for p in row
            for sequence, example in ((p, chosen[p]), (n + p, rejected[p]))
            for _ in range(example.n_trained)
        ]
        return collate_packed(examples, self.pad_id), torch.tensor(segments), rows
