"""Train / validation / test split without leakage, and the check that proves it.

Records are split by group, never one by one: a group joins every record that shares
a prompt, an exact text, or any MinHash band with another, so a question whose answer
is in train never turns up in test, under any rephrasing MinHash can see.
"""

from __future__ import annotations

import numpy as np

from tuneforge.data.dedup import near_duplicate_groups

SPLITS = ("train", "validation", "test")


def split_groups(keys: np.ndarray) -> np.ndarray:
    """For each record, the representative of the group it must share a split with: keys
    holds one column each for the text digest, the prompt digest and every LSH band."""
    return near_duplicate_groups(keys)


def assign_splits(groups: np.ndarray, fractions: tuple[float, ...], seed: int) -> np.ndarray:
    """0, 1 or 2 (train, validation, test) per record; whole groups in seeded random order
    fill test, then validation, to their share of records, and the rest is train."""
    unique, sizes = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    ends = np.cumsum(sizes[order])
    starts = ends - sizes[order]
    n = len(groups)
    n_test = round(n * fractions[2])
    n_val = round(n * fractions[1])
    split_of_group = np.zeros(len(unique), dtype=np.int8)
    split_of_group[order[starts < n_test + n_val]] = 1
    split_of_group[order[starts < n_test]] = 2
    return split_of_group[np.searchsorted(unique, groups)]


def leaks(splits: np.ndarray, keys: np.ndarray) -> int:
    """How many records share a key (any column) with a record in another split."""
    leaking = np.zeros(len(splits), dtype=bool)
    for column in keys.T:
        order = np.argsort(column, kind="stable")
        values, where = column[order], splits[order]
        same = values[1:] == values[:-1]
        crosses = same & (where[1:] != where[:-1])
        # Runs of equal keys are contiguous after sorting; a run crossing splits anywhere
        # marks all its members, so compare each record with its run's split set.
        run = np.concatenate([[0], np.cumsum(~same)])
        mixed_runs = np.unique(run[1:][crosses])
        leaking[order[np.isin(run, mixed_runs)]] = True
    return int(leaking.sum())
