"""{{namespace.path}} substitution, and the errors of paths that lead nowhere."""

from __future__ import annotations

import pytest

from tuneforge.graders.outcome import GraderFailure
from tuneforge.graders.templates import make_sample, render

ITEM = {"reference_answer": "Paris", "meta": {"tags": ["geo", "capital"], "n": 3}}


def test_item_and_sample_fields_nested_and_indexed():
    sample = make_sample('{"city": "Paris", "pop": 2.1}')
    text = (
        "{{ item.reference_answer }}|{{item.meta.tags[1]}}|{{item.meta.n}}"
        "|{{sample.output_json.city}}"
    )
    assert render(text, sample, ITEM) == "Paris|capital|3|Paris"
    assert render("{{item.meta}}", sample, ITEM) == '{"tags": ["geo", "capital"], "n": 3}'
    assert render("{{sample.output_text}}!", make_sample("hi"), {}) == "hi!"


def test_missing_item_field_names_it():
    with pytest.raises(GraderFailure) as caught:
        render("{{item.meta.missing}}", make_sample("x"), ITEM)
    assert caught.value.kind == "invalid_variable_error"
    assert "item.meta.missing does not exist" in caught.value.message


def test_output_json_of_a_non_json_sample_is_a_sample_parse_error():
    with pytest.raises(GraderFailure) as caught:
        render("{{sample.output_json.city}}", make_sample("not json"), {})
    assert caught.value.kind == "sample_parse_error"


def test_only_item_and_sample_namespaces():
    with pytest.raises(GraderFailure, match="item.<field> or sample.<field>"):
        render("{{env.HOME}}", make_sample("x"), {})
