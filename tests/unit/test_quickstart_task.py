"""The quickstart task: deterministic data, and a scorer that credits exact fields only."""

from __future__ import annotations

import json

import pytest

from tuneforge.quickstart.task import FIELDS, field_accuracy, make_examples

EXPECTED = '{"name": "Ana Kim", "city": "Porto", "product": "oak chairs", "quantity": 12}'


def test_examples_are_deterministic_and_answer_from_the_message():
    first, again = make_examples(20, seed=3), make_examples(20, seed=3)
    assert first == again
    assert first != make_examples(20, seed=4)
    for record in first:
        system, user, assistant = record["messages"]
        answer = json.loads(assistant["content"])
        assert list(answer) == list(FIELDS)
        for field in ("name", "city", "product"):
            assert answer[field] in user["content"]
        assert str(answer["quantity"]) in user["content"]


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        (EXPECTED, 1.0),
        ("Sure! ```json\n" + EXPECTED + "\n```", 1.0),  # wrapped answers still count
        ('{"name": "Ana Kim", "city": "Lyon", "product": "oak chairs", "quantity": "12"}', 0.75),
        ('{"customer": "Ana Kim", "town": "Porto"}', 0.0),  # wrong keys earn nothing
        ("I cannot help with orders.", 0.0),
        ("{not json}", 0.0),
    ],
)
def test_field_accuracy(reply, score):
    assert field_accuracy(reply, EXPECTED) == score
