"""GRPO and PPO raise the mean reward of a simple reward function (or of a trained reward
model) while the KL to the reference stays bounded, and resume exactly mid-rollout.

A random tiny model samples from ~49k tokens nearly uniformly, so no reward moves in a
few steps; a short SFT first teaches it to answer with "yes"/"no" words at random (as
real RL starts from an SFT model), and the reward is the share of "yes"."""

from __future__ import annotations

import json
import random

import pytest
import torch

from tests.helpers import (
    TINY,
    interrupt_after_checkpoint,
    read_metrics,
    read_summary,
    tiny_config,
    write_jsonl,
)
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


@pytest.fixture(scope="module")
def yes_reward_model(tmp_path_factory, yes_no_model):
    """A reward model trained on pairs where the reply with more "yes" is chosen."""
    root = tmp_path_factory.mktemp("yes-rm")
    rng = random.Random(1)
    records = []
    for i in range(96):
        yes = rng.randint(4, 6)
        replies = [["yes"] * yes + ["no"] * (6 - yes), ["yes"] * (6 - yes) + ["no"] * yes]
        for reply in replies:
            rng.shuffle(reply)
        chosen, rejected = (" ".join(r) for r in replies)
        records.append({"prompt": f"Say something about item {i}.", "chosen": chosen,
                        "rejected": rejected})  # fmt: skip
    data = write_jsonl(root / "pairs.jsonl", records)
    cfg = tiny_config(
        data, root / "rm", "method.name=reward", f"model.name_or_path={yes_no_model}",
        "train.lr=5e-3", "train.max_steps=24", "train.batch_size=8",
        "data.validation_split=0.25", "train.eval_every=24",
    )  # fmt: skip
    train(cfg)
    final_eval = [r for r in read_metrics(root / "rm") if "eval_loss" in r][-1]
    assert final_eval["eval_accuracy"] > 0.9
    return root / "rm"


def test_ppo_raises_a_trained_reward_models_score(
    prompts_file, yes_no_model, yes_reward_model, tmp_path
):
    cfg = online_config(
        prompts_file, yes_no_model, tmp_path / "ppo", "ppo", "method.reward_function=null",
        f"method.reward_model={yes_reward_model}", "train.max_steps=24", "train.batch_size=8",
    )  # fmt: skip
    summary = train(cfg)
    first, last, kl = reward_curve(tmp_path / "ppo")
    assert summary["status"] == "completed"
    assert last > first
    assert kl < 1.0


@pytest.mark.parametrize(
    ("method", "overrides"),
    [
        ("grpo", ["method.num_generations=4", "method.updates_per_rollout=2"]),
        ("ppo", ["method.kl_target=0.001", "method.updates_per_rollout=2"]),
    ],
)
def test_resume_mid_rollout_equals_a_straight_run(
    prompts_file, yes_no_model, tmp_path, monkeypatch, method, overrides
):
    """The checkpoint at step 1 falls between the two updates of the first rollout: the
    resumed run must update on that same rollout (and, for PPO, with the KL coefficient
    the controller had reached), not re-sample with the half-trained policy."""
    common = [*overrides, "train.max_steps=4", "train.batch_size=4", "train.save_every=1",
              "train.log_every=1", "data.validation_split=0"]  # fmt: skip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(online_config(prompts_file, yes_no_model, straight, method, *common))
    interrupt_after_checkpoint(monkeypatch, at_step=1)
    with pytest.raises(KeyboardInterrupt):
        train(online_config(prompts_file, yes_no_model, resumed, method, *common))
    monkeypatch.undo()
    torch.manual_seed(1234)
    train(online_config(prompts_file, yes_no_model, resumed, method, *common), resume=True)
    keys = ["loss", "reward_mean", "kl", "kl_coef"]
    values = lambda run: [r[k] for r in read_metrics(run) for k in keys if k in r]  # noqa: E731
    assert values(resumed) == pytest.approx(values(straight), rel=1e-5, abs=1e-7)
    assert read_summary(resumed)["status"] == "completed"


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
