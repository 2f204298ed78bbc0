"""Shipped reward functions and loading a user's own."""

from __future__ import annotations

import pytest

from tuneforge import rewards

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "quantity": {"type": "integer"}},
    "required": ["name", "quantity"],
}


def test_json_valid_accepts_plain_and_fenced_json():
    completions = ['{"a": 1}', "Sure:\n```json\n[1, 2]\n```", "{oops", "plain words"]
    assert rewards.json_valid([""] * 4, completions) == [1.0, 1.0, 0.0, 0.0]


def test_json_schema_grades_parse_and_shape():
    completions = ['{"name": "Ada", "quantity": 3}', '{"name": "Ada", "quantity": "3"}', "no"]
    scores = rewards.json_schema([""] * 3, completions, schema=[SCHEMA] * 3)
    assert scores == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="needs a 'schema' column"):
        rewards.json_schema([""], ["{}"])


def test_exact_match_folds_case_and_spacing():
    scores = rewards.exact_match(["q", "q"], [" Paris ", "Lyon"], reference=["paris", "Paris"])
    assert scores == [1.0, 0.0]


def test_length_penalty_and_keywords():
    assert rewards.length_penalty(["", ""], ["a " * 10, "a " * 15], target_words=10) == [0.0, -0.5]
    assert rewards.keyword_presence([""], ["Red and BLUE"], keywords=["red, blue, green"]) == [
        pytest.approx(2 / 3)
    ]


def test_load_reward_function_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(
        "def shout(prompts, completions, **columns):\n"
        "    return [float(c.isupper()) for c in completions]\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    shout = rewards.load_reward_function("my_rewards:shout")
    assert shout([""], ["HEY"]) == [1.0]
    assert rewards.load_reward_function("tuneforge.rewards:json_valid") is rewards.json_valid
    with pytest.raises(ValueError, match="expected 'module:function'"):
        rewards.load_reward_function("no_colon")
    with pytest.raises(ValueError, match="cannot import"):
        rewards.load_reward_function("my_rewards:missing")
