"""Exact and near-duplicate detection over record texts.

Exact: a hash of the text with case and whitespace normalised. Near: MinHash signatures
of word shingles, bucketed by LSH (datasketch), so each record is compared only with
likely matches instead of all others; a cluster keeps its first or its longest member.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Literal

Keep = Literal["first", "longest"]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def exact_duplicates(texts: Sequence[str]) -> set[int]:
    """Indices of records whose normalised text appeared earlier."""
    seen: set[bytes] = set()
    duplicates = set()
    for i, text in enumerate(texts):
        digest = hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()
        if digest in seen:
            duplicates.add(i)
        seen.add(digest)
    return duplicates


def near_duplicates(
    texts: Sequence[str],
    threshold: float = 0.8,
    shingle_size: int = 5,
    num_perm: int = 128,
    keep: Keep = "first",
    seed: int = 1,
) -> set[int]:
    """Indices to drop so that no two kept records have an estimated Jaccard similarity
    of their word shingles at or above `threshold`."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    order = range(len(texts))
    if keep == "longest":
        order = sorted(order, key=lambda i: (-len(texts[i]), i))
    drop = set()
    for i in order:
        signature = MinHash(num_perm=num_perm, seed=seed)
        signature.update_batch([s.encode() for s in _shingles(texts[i], shingle_size)])
        if lsh.query(signature):
            drop.add(i)  # a kept record (earlier in `order`) is this one's near twin
        else:
            lsh.insert(str(i), signature)
    return drop


def _shingles(text: str, size: int) -> set[str]:
    words = normalise(text).split()
    if len(words) <= size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}
