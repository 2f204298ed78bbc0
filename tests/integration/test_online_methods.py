"""GRPO and PPO raise the mean reward of a simple reward function while the KL to the
reference stays bounded.

A random tiny model samples from ~49k tokens nearly uniformly, so no reward moves in a
few steps; a short SFT first teaches it to answer with "yes"/"no" words at random (as
real RL starts from an SFT model), and the reward is the share of "yes"."""

from __future__ import annotations

import json
import random

import pytest

from tests.helpers import TINY, read_metrics, tiny_config, write_jsonl
from tuneforge.train import train

REWARD = "method.reward_function=tests.toy_rewards:yes_share"


@pytest.fixture(scope="module")
def yes_no_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("yes-no")
    rng = random.Random(0)
    records = [
        {
            "prompt": f"Answer {i}.",
            "completion": " ".join(rng.choice(["yes", "no"]) for _ in range(6)),
        }
        for i in range(64)
    ]
    data = write_jsonl(root / "sft.jsonl", records)
    cfg = tiny_config(
        data, root / "sft", "adapter.type=full", "train.max_steps=60", "train.batch_size=8",
        "train.lr=1e-2", "train.log_every=20",
    )  # fmt: skip
    train(cfg)
    return root / "sft" / "model"


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    path.write_text(
        "\n".join(json.dumps({"prompt": f"Say something about item {i}."}) for i in range(32))
    )
    return path


def online_config(prompts_file, model, out, method, *overrides):
    return tiny_config(
        prompts_file, out, f"method.name={method}", REWARD, f"model.name_or_path={model}",
        "method.max_new_tokens=8", "train.lr=5e-3", "data.validation_split=0.25",
        "train.log_every=2", *overrides,
    )  # fmt: skip


def reward_curve(run) -> tuple[float, float, float]:
    rows = [r for r in read_metrics(run) if "reward_mean" in r]
    return (
        rows[0]["reward_mean"],
        sum(r["reward_mean"] for r in rows[-2:]) / 2,
        max(r["kl"] for r in rows),
    )


def test_grpo_raises_the_reward_with_bounded_kl(prompts_file, yes_no_model, tmp_path):
    cfg = online_config(
        prompts_file, yes_no_model, tmp_path / "grpo", "grpo", "method.num_generations=8",
        "train.max_steps=12", "train.batch_size=4",
    )  # fmt: skip
    summary = train(cfg)
    first, last, kl = reward_curve(tmp_path / "grpo")
    assert summary["status"] == "completed" and summary["method"] == "grpo"
    assert last > first + 0.1
    assert kl < 1.0


def test_ppo_raises_the_reward_with_bounded_kl(prompts_file, yes_no_model, tmp_path):
    cfg = online_config(
        prompts_file, yes_no_model, tmp_path / "ppo", "ppo", "train.max_steps=24",
        "train.batch_size=8", "train.eval_every=24",
    )  # fmt: skip
    summary = train(cfg)
    first, last, kl = reward_curve(tmp_path / "ppo")
    rows = read_metrics(tmp_path / "ppo")
    assert summary["status"] == "completed"
    assert last > first + 0.1
    assert kl < 1.0
    assert {"value_loss", "clip_fraction", "entropy", "response_length"} <= set(rows[0])
    assert rows[-1]["eval_reward_mean"] >= 0.5
    from safetensors import safe_open

    with safe_open(tmp_path / "ppo" / "adapter" / "adapter_model.safetensors", "pt") as saved:
        names = list(saved.keys())  # noqa: SIM118 (safe_open is not a dict)
        assert names and not any("value_head" in k for k in names)


def test_prompts_must_end_with_a_user_turn(tmp_path):
    from tuneforge.errors import DataError

    record = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    }
    data = write_jsonl(tmp_path / "p.jsonl", [record])
    cfg = tiny_config(
        data, tmp_path / "run", "method.name=grpo", REWARD, f"model.name_or_path={TINY}"
    )
    with pytest.raises(DataError, match=r"p.jsonl:1: messages\[1\].role: prompts end with a user"):
        train(cfg)
    assert not (tmp_path / "run").exists()
