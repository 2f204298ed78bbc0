"""The forward passes a run makes, from its data's token lengths and batch settings.

Peak activation memory is set by the largest pass, not the average one. A micro-batch
is padded to its longest row (rounded up to a multiple of 8, data/batching.py), so a
batch holding the longest example is batch_size x that width whatever the others are;
packed rows are as wide as their fullest row (at most data.max_length). The loop then
cuts each micro-batch into passes of at most train.max_tokens_per_forward tokens (rows x
width; 512 on CPU with `auto`, no cut on a GPU), never separating a pair. So the
candidates are, for each width w the data has, min(units per batch, budget // (rows per
unit x w)) units of width w, and the planner keeps the one that costs most.

What a method puts in a batch (its `lengths` are given per example as it batches them):

- sft: one row per example (lengths: each example's tokens).
- dpo, orpo, simpo, reward: a pair is two rows, chosen and rejected (train/pair_batches.py;
  lengths: a pair's longer sequence, TokenizedPair.length). Packed, each batch's pairs go
  whole into rows of 2 x max_length.
- kto: an example and its KL twin, two rows; only the example's forward pass keeps a
  graph (the twin's runs under no_grad).
- grpo, ppo: num_generations (ppo: 1) rows per prompt, each the prompt plus up to
  method.max_new_tokens sampled tokens, all of those trained (lengths: prompt tokens).
- prompt tuning prepends num_virtual_tokens to every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tuneforge.config import RunConfig
from tuneforge.plan.activations import ForwardPass

PAD_MULTIPLE = 8
"""data/batching.py pads rows to a multiple of this."""


@dataclass(frozen=True)
class MethodShape:
    """How a method turns examples into rows."""

    unit_rows: int
    """Rows of one example, which a split never separates (a pair: 2)."""
    grad_rows: int
    """Of those, the rows whose forward pass keeps a graph."""
    units_per_batch: int
    """Units (examples, pairs, or sampled rows) per micro-batch."""
    extra_tokens: int = 0
    """Tokens every row has beyond the example's length (sampled completions)."""
    packing: str | None = None
    """rows (SFT packing), pairs (pairs packed whole), or None."""


def _online(cfg: RunConfig, batch: int) -> MethodShape:
    generations = getattr(cfg.method, "num_generations", 1)
    return MethodShape(1, 1, batch * generations, cfg.method.max_new_tokens)


def _pairs(cfg: RunConfig, batch: int) -> MethodShape:
    return MethodShape(2, 2, batch, packing="pairs" if cfg.data.packing else None)


SHAPES: dict[str, Callable[[RunConfig, int], MethodShape]] = {
    "sft": lambda cfg, batch: MethodShape(
        1, 1, batch, packing="rows" if cfg.data.packing else None
    ),
    "dpo": _pairs,
    "orpo": _pairs,
    "simpo": _pairs,
    "reward": lambda cfg, batch: MethodShape(2, 2, batch),  # never packed
    "kto": lambda cfg, batch: MethodShape(2, 1, batch),  # never packed
    "grpo": _online,
    "ppo": _online,
}


def batch_size(cfg: RunConfig, examples: int) -> int:
    """train.batch_size, `auto` resolved as training resolves it (plan/auto.py)."""
    from tuneforge.plan.auto import auto_batch_size

    size = cfg.train.batch_size
    return auto_batch_size(examples) if size == "auto" else size


def method_shape(cfg: RunConfig, examples: int) -> MethodShape:
    return SHAPES[cfg.method.name](cfg, batch_size(cfg, examples))


def round_up(n: int) -> int:
    return -(-n // PAD_MULTIPLE) * PAD_MULTIPLE


def units_per_pass(units: int, unit_width: int, max_tokens: int | None) -> int:
    """Units in one pass after the loop's split (Batch.split, PairBatch.split)."""
    if max_tokens is None:
        return units
    return min(units, max(1, max_tokens // unit_width))


def padded_passes(
    shape: MethodShape, lengths: list[int], trained: list[int], max_tokens: int | None,
    virtual_tokens: int = 0,
) -> list[ForwardPass]:  # fmt: skip
    """A candidate pass for every width in the data (padded batches); `trained` holds
    each unit's trained tokens."""
    most_trained = sorted(trained, reverse=True)
    passes = []
    for width in sorted({round_up(n + shape.extra_tokens) for n in lengths}):
        width += virtual_tokens
        per_batch = min(shape.units_per_batch, len(trained))
        units = units_per_pass(per_batch, shape.unit_rows * width, max_tokens)
        rows = units * shape.grad_rows
        passes.append(
            ForwardPass(
                rows, width, min(rows * width, sum(most_trained[:units])),
                masked=units * shape.unit_rows > 1,
                no_grad_rows=units * (shape.unit_rows - shape.grad_rows),
            )
        )  # fmt: skip
    return passes


def packed_rows(sizes: list[int], width: int) -> list[list[int]]:
    """Rows of example indices as data/batching.py packs them (best fit, decreasing)."""
    from tuneforge.data.batching import plan_packed_batches

    return [row for batch in plan_packed_batches(sizes, width, 1, 0, 0) for row in batch]


def packed_pass(
    shape: MethodShape, lengths: list[int], trained: list[int], max_tokens: int | None,
    max_length: int,
) -> ForwardPass:  # fmt: skip
    """The largest pass of packed rows. SFT: the batch_size fullest rows of the whole
    data. Pairs: the batch_size largest pairs packed into rows of 2 x max_length (a
    pair counted as twice its longer sequence)."""
    if shape.packing == "pairs":
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])[: shape.units_per_batch]
        sizes, kept = [2 * lengths[i] for i in order], [trained[i] for i in order]
        rows = packed_rows(sizes, max(2 * max_length, max(sizes)))
    else:
        sizes, kept = lengths, trained
        rows = packed_rows(sizes, max_length)
    fills = sorted(
        ((sum(sizes[i] for i in row), sum(kept[i] for i in row)) for row in rows), reverse=True
    )
    if shape.packing == "rows":
        fills = fills[: shape.units_per_batch]
    width = round_up(fills[0][0])
    n_rows = units_per_pass(len(fills), width, max_tokens)
    trained_tokens = sum(t for _, t in fills[:n_rows])
    return ForwardPass(n_rows, width, min(trained_tokens, n_rows * width), masked=True)


def candidate_passes(
    cfg: RunConfig, lengths: list[int], trained: list[int] | None, max_tokens: int | None
) -> list[ForwardPass]:
    """The passes that could be the largest; `trained` per example (default: every
    token; for grpo/ppo always the sampled tokens)."""
    if not lengths:
        raise ValueError("no lengths: memory is estimated from the data's token lengths")
    if trained is not None and len(trained) != len(lengths):
        raise ValueError(f"{len(trained)} trained counts for {len(lengths)} lengths: one each")
    shape = method_shape(cfg, len(lengths))
    if shape.extra_tokens:
        rows = shape.units_per_batch // batch_size(cfg, len(lengths))  # rows per prompt
        trained = [shape.extra_tokens] * (len(lengths) * rows)
    elif trained is None:
        trained = [n * shape.grad_rows for n in lengths]
    if shape.packing:
        return [packed_pass(shape, lengths, trained, max_tokens, cfg.data.max_length)]
    virtual = cfg.adapter.num_virtual_tokens if cfg.adapter.type == "prompt_tuning" else 0
    return padded_passes(shape, lengths, trained, max_tokens, virtual)
