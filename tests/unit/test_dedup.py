"""Deduplication: exact copies up to case and spacing, and planted near-duplicates."""

from __future__ import annotations

import random

from tests.helpers import WORDS
from tuneforge.data.dedup import exact_duplicates, near_duplicates


def paragraph(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_exact_duplicates_ignore_case_and_whitespace():
    texts = ["Hello  world", "hello world", "Hello world!", "HELLO\tWORLD"]
    assert exact_duplicates(texts) == {1, 3}


def test_planted_near_duplicates_are_found_and_distinct_texts_kept():
    rng = random.Random(0)
    originals = [paragraph(rng) for _ in range(40)]
    texts = list(originals)
    planted = {}
    for source in range(0, 40, 4):  # every 4th original gets a lightly edited copy
        words = originals[source].split()
        words[rng.randrange(len(words))] = "edited"
        planted[len(texts)] = source
        texts.append(" ".join(words))
    dropped = near_duplicates(texts, threshold=0.7)
    assert dropped == set(planted)  # copies go, every original stays


def test_keep_longest_keeps_the_longer_twin():
    base = " ".join(f"w{i}" for i in range(40))
    longer = base + " with a few more words at the end"
    assert near_duplicates([base, longer], threshold=0.7, keep="longest") == {0}
    assert near_duplicates([base, longer], threshold=0.7, keep="first") == {1}
