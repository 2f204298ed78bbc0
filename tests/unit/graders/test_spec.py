"""Grader objects: OpenAI's shapes accepted, mistakes named by their dotted field."""

from __future__ import annotations

import pytest

from tuneforge.graders import GraderSpecError, normalised, parse_grader

EXACT = {
    "type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}", "operation": "eq",
}  # fmt: skip


def spec_error(obj) -> GraderSpecError:
    with pytest.raises(GraderSpecError) as caught:
        parse_grader(obj)
    return caught.value


def test_every_grader_type_parses_and_normalises_without_unset_fields():
    multi = {
        "type": "multi", "name": "m", "calculate_output": "0.5 * exact + 0.5 * code",
        "graders": {
            "exact": EXACT,
            "code": {"type": "python", "name": "p", "source": "def grade(s, i): return 1"},
        },
    }  # fmt: skip
    score = {
        "type": "score_model", "name": "s", "model": "judge",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "{{item.q}}"}]}],
    }  # fmt: skip
    similarity = {**EXACT, "type": "text_similarity", "evaluation_metric": "bleu"}
    del similarity["operation"]
    for obj in (EXACT, multi, score, similarity):
        assert normalised(parse_grader(obj)) == obj


def test_unknown_field_is_named():
    error = spec_error({**EXACT, "weight": 2})
    assert error.param == "weight" and "Unknown parameter" in error.message


def test_bad_value_inside_a_multi_grader_is_named_by_its_path():
    bad = {**EXACT, "operation": "contains"}
    error = spec_error(
        {"type": "multi", "name": "m", "graders": {"exact": bad}, "calculate_output": "exact"}
    )
    assert error.param == "graders.exact.operation"
    assert "'eq'" in error.message


def test_missing_field_and_unknown_type():
    missing = dict(EXACT)
    del missing["reference"]
    assert spec_error(missing).param == "reference"
    assert "does not match" in spec_error({**EXACT, "type": "regex"}).message


def test_label_model_is_refused_with_the_alternative():
    error = spec_error({"type": "label_model", "name": "l", "model": "m", "input": []})
    assert "label_model graders are not supported" in error.message
    assert "score_model" in error.message


def test_score_model_range_and_content_checks():
    score = {"type": "score_model", "name": "s", "model": "judge",
             "input": [{"role": "user", "content": "rate {{sample.output_text}}"}]}  # fmt: skip
    assert "low < high" in spec_error({**score, "range": [1, 0]}).message
    image = {"type": "input_image", "image_url": "http://x/y.png"}
    error = spec_error({**score, "input": [{"role": "user", "content": [image]}]})
    assert error.param == "input[0]" and "text only" in error.message


def test_multi_names_must_be_usable_in_the_formula():
    error = spec_error(
        {"type": "multi", "name": "m", "graders": {"ex-act": EXACT}, "calculate_output": "1"}
    )
    assert "cannot be used in calculate_output" in error.message
    error = spec_error({"type": "multi", "name": "m", "graders": EXACT, "calculate_output": "1"})
    assert "maps names" in error.message
