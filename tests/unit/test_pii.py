"""PII scrubbing: precision and recall on a hand-labelled set, and exact placeholders."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.data.pii import find_pii, scrub

LABELLED = Path(__file__).parents[1] / "data" / "pii_labelled.jsonl"


def test_precision_and_recall_on_the_labelled_set():
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines()]
    true_pos = false_pos = false_neg = 0
    missed, spurious = [], []
    for row in rows:
        expected = {(p["kind"], p["value"]) for p in row["pii"]}
        found = {(s.kind, row["text"][s.start : s.end]) for s in find_pii(row["text"])}
        true_pos += len(expected & found)
        false_pos += len(found - expected)
        false_neg += len(expected - found)
        missed += expected - found
        spurious += found - expected
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(f"\nPII on {len(rows)} labelled texts: precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.95, spurious
    assert recall >= 0.95, missed


def test_scrub_replaces_with_typed_placeholders():
    text, counts = scrub("Mail a@b.io or call 415-555-0199 from 10.0.0.1.")
    assert text == "Mail <EMAIL> or call <PHONE> from <IP_ADDRESS>."
    assert counts == {"EMAIL": 1, "PHONE": 1, "IP_ADDRESS": 1}


def test_clean_text_is_untouched():
    text = "Ship 12 oak chairs to Porto by 2024-05-01."
    assert scrub(text) == (text, {})
