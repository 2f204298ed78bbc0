"""grade_reward as a GRPO reward, and method.reward_kwargs in the run config."""

from __future__ import annotations

import pytest

from tuneforge.config.online import OnlineMethodConfig
from tuneforge.data.prompts import parse_prompt
from tuneforge.graders.reward import grade_reward
from tuneforge.train.rollouts import RewardSource

EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.reference_answer}}", "operation": "ilike"}  # fmt: skip


def test_batch_with_columns():
    rewards = grade_reward(
        ["q1", "q2", "q3"], ["It is Paris", "Rome", "berlin"], grader=EXACT,
        reference_answer=["paris", "Madrid", "Berlin"], other=[1, 2, 3],
    )  # fmt: skip
    assert rewards == [1.0, 0.0, 1.0]


def test_missing_column_is_an_error_naming_it():
    with pytest.raises(ValueError, match="item.reference_answer"):
        grade_reward(["q"], ["a"], grader=EXACT, answer=["a"])


def test_reward_source_passes_reward_kwargs_to_the_function():
    record = {"messages": [{"role": "user", "content": "capital?"}], "reference_answer": "Paris"}
    prompt = parse_prompt(record, "train.jsonl", 1)
    source = RewardSource("tuneforge.graders.reward:grade_reward", None, None, {"grader": EXACT})
    assert source([prompt, prompt], ["paris", "rome"]) == [1.0, 0.0]
    clash = RewardSource("tuneforge.graders.reward:grade_reward", None, None,
                         {"grader": EXACT, "reference_answer": "x"})  # fmt: skip
    with pytest.raises(ValueError, match="reference_answer"):
        clash.check_columns(set(prompt.columns))


def test_config_accepts_reward_kwargs_and_refuses_misuse():
    config = OnlineMethodConfig(
        reward_function="tuneforge.graders.reward:grade_reward", reward_kwargs={"grader": EXACT}
    )
    assert config.reward_kwargs["grader"] == EXACT
    with pytest.raises(ValueError, match="own arguments"):
        OnlineMethodConfig(reward_function="m:f", reward_kwargs={"completions": 1})
    with pytest.raises(ValueError, match="reward_function, which is not set"):
        OnlineMethodConfig(reward_model="runs/rm", reward_kwargs={"grader": EXACT})
