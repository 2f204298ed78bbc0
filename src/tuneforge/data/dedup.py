"""Exact and near-duplicate clusters, and which member of each cluster to keep.

Records are reduced to small integer keys first (a digest of the normalised text, and
MinHash LSH band hashes from `minhash.py`), so clustering a million records is a few
numpy sorts rather than a million Python objects. A cluster keeps its first or its
longest member.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np

from tuneforge.data.minhash import band_hashes, lsh_params, normalise, signatures

Keep = Literal["first", "longest"]


def digest(text: str) -> int:
    """64-bit digest of the text with case and whitespace folded."""
    return int.from_bytes(hashlib.blake2b(normalise(text).encode(), digest_size=8).digest())


def same_key_groups(keys: np.ndarray) -> np.ndarray:
    """For each record, the index of the first record with the same key."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse]


def near_duplicate_groups(bands: np.ndarray) -> np.ndarray:
    """For each record, a representative of its cluster: records sharing any band hash
    are joined, transitively (union-find over the collisions, which are few)."""
    parent = np.arange(len(bands))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for band in bands.T:
        order = np.argsort(band, kind="stable")
        sorted_band = band[order]
        repeats = np.flatnonzero(sorted_band[1:] == sorted_band[:-1]) + 1
        for position in repeats:  # join each repeat to the record sorted just before it
            a, b = root(order[position - 1]), root(order[position])
            if a != b:
                parent[max(a, b)] = min(a, b)
    while not np.array_equal(parent[parent], parent):  # pointer jumping, vectorised
        parent = parent[parent]
    return parent


def kept_mask(groups: np.ndarray, lengths: np.ndarray, keep: Keep) -> np.ndarray:
    """True for the one record kept per group: its first, or its longest (first on ties)."""
    index = np.arange(len(groups))
    priority = index if keep == "first" else np.lexsort((index, -lengths))
    rank = np.empty_like(index)
    rank[priority] = index
    best = np.full(groups.max() + 1 if len(groups) else 0, len(groups), dtype=np.int64)
    np.minimum.at(best, groups, rank)
    return rank == best[groups]


def exact_duplicates(texts: Sequence[str], keep: Keep = "first") -> set[int]:
    """Indices of records whose normalised text another kept record already has."""
    keys = np.array([digest(t) for t in texts], dtype=np.uint64)
    lengths = np.array([len(t) for t in texts])
    return set(np.flatnonzero(~kept_mask(same_key_groups(keys), lengths, keep)).tolist())


def near_duplicates(
    texts: Sequence[str],
    threshold: float = 0.8,
    shingle_size: int = 5,
    num_perm: int = 128,
    keep: Keep = "first",
) -> set[int]:
    """Indices to drop so that no two kept records are likely (by MinHash LSH) to have a
    Jaccard similarity of their word shingles at or above `threshold`."""
    bands, rows = lsh_params(threshold, num_perm)
    keys = band_hashes(signatures(texts, num_perm, shingle_size), bands, rows)
    lengths = np.array([len(t) for t in texts])
    groups = near_duplicate_groups(keys)
    return set(np.flatnonzero(~kept_mask(groups, lengths, keep)).tolist())
