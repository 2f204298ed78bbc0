"""Replay, EWC and L2-to-start on the tiny model, through the same wrapper for every
method: anchored runs end nearer their start than a free run, replay is trained and
reported on its own, a bad replay file fails before the run directory exists, and a
DPO run with replay and EWC resumes to the same numbers as a straight one."""

from __future__ import annotations

import random

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import (
    TINY,
    WORDS,
    chat_records,
    interrupt_after_checkpoint,
    read_metrics,
    read_summary,
    sentence,
    tiny_config,
    write_jsonl,
)
from tuneforge.errors import DataError
from tuneforge.train import train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(3)
    # General text unlike the task's, and quick to learn: counting, from a random start.
    numbers = "one two three four five six seven eight nine ten".split()
    general = [
        {"text": " ".join(numbers[(start + k) % 10] for k in range(rng.randint(12, 30)))}
        for start in (rng.randrange(10) for _ in range(40))
    ]
    pairs = [
        {"prompt": sentence(rng), "chosen": f"Yes, {w} is right.", "rejected": "No idea."}
        for w in (rng.choice(WORDS) for _ in range(24))
    ]
    return {
        "train": write_jsonl(root / "train.jsonl", chat_records(24, seed=1)),
        "general": write_jsonl(root / "general.jsonl", general),
        "pairs": write_jsonl(root / "pairs.jsonl", pairs),
    }


def rows(run) -> list[dict]:
    return [row for row in read_metrics(run) if "loss" in row]


def adapter_change(run) -> float:
    """Squared norm of every LoRA B: B starts at zero and the adapter changes the model by
    B A, so this is how far the saved adapter moved from where it started."""
    weights = load_file(run / "adapter" / "adapter_model.safetensors")
    return sum(float(w.square().sum()) for name, w in weights.items() if "lora_B" in name)


def sft(data, run, *overrides):
    common = ["train.max_steps=6", "train.lr=1e-2", "adapter.dropout=0"]
    return train(tiny_config(data["train"], run, *common, *overrides))


@pytest.fixture(scope="module")
def free_run(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("free") / "run"
    sft(data, run)
    return run


@pytest.mark.parametrize(
    ("anchor", "most"),
    [
        (["train.l2_to_start=1000"], 0.1),
        # EWC holds the weights the general data depends on; Adam moves every weight by
        # about lr a step whatever its gradient, so those with F ~ 0 (here q_proj and
        # k_proj: a random model's attention is near uniform) move as freely as without.
        (["train.ewc.lambda=1e5", "train.ewc.fisher_samples=16"], 0.75),
    ],
    ids=["l2_to_start", "ewc"],
)
def test_an_anchored_run_moves_the_weights_less(data, free_run, tmp_path, anchor, most):
    ewc = "ewc" in anchor[0]
    general = [f"train.ewc.data={data['general']}"] if ewc else []
    sft(data, tmp_path / "run", *anchor, *general)
    name = "ewc_penalty" if ewc else "l2_to_start_penalty"
    assert rows(tmp_path / "run")[0][name] == 0.0  # at the start, nothing to pull back
    assert rows(tmp_path / "run")[-1][name] > 0
    assert adapter_change(tmp_path / "run") < most * adapter_change(free_run)


def test_replay_is_trained_and_reported_on_its_own(data, free_run, tmp_path):
    """At ratio 0.01 the replay is drawn and measured but weighs almost nothing; at 1 it
    is trained as much as the task, and its loss falls further."""
    for ratio in ("1", "0.01"):
        replay = [f"data.replay.path={data['general']}", f"data.replay.ratio={ratio}"]
        sft(data, tmp_path / ratio, *replay)
    replayed, measured, free = rows(tmp_path / "1"), rows(tmp_path / "0.01"), rows(free_run)
    assert all("replay_loss" in row for row in replayed + measured)
    # Measured: 10.78 -> 10.03 trained, 10.77 -> 10.80 at a weight of 0.01.
    assert replayed[-1]["replay_loss"] < replayed[0]["replay_loss"] - 0.5
    assert measured[-1]["replay_loss"] > replayed[-1]["replay_loss"] + 0.5
    # loss = the method's loss + ratio x the replay's mean, with grad_accum 1
    first = replayed[0]
    assert first["loss"] == pytest.approx(first["task_loss"] + first["replay_loss"])
    assert first["task_loss"] == pytest.approx(free[0]["loss"], rel=1e-5)  # same first step
    summary = read_summary(tmp_path / "1")
    assert summary["data"]["replay_examples"] == 40
    assert summary["train_tokens"] > read_summary(free_run)["train_tokens"]


def test_a_bad_replay_file_fails_before_the_run_directory_exists(data, tmp_path):
    bad = write_jsonl(tmp_path / "general.jsonl", [{"text": "fine"}, "{not json"])
    with pytest.raises(DataError) as info:
        sft(data, tmp_path / "run", f"data.replay.path={bad}")
    assert f"{bad}:2" in str(info.value)
    assert not (tmp_path / "run").exists()


def dpo(data, run, resume=False):
    cfg = tiny_config(
        data["pairs"], run, "method.name=dpo", "train.max_steps=4", "train.save_every=2",
        "adapter.dropout=0.1", f"data.replay.path={data['general']}",
        "train.ewc.lambda=1000", "train.ewc.fisher_samples=8", "train.l2_to_start=1",
    )  # fmt: skip
    return train(cfg, resume=resume)


def test_dpo_with_replay_and_ewc_resumes_exactly(data, tmp_path, monkeypatch):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    dpo(data, straight)
    interrupt_after_checkpoint(monkeypatch, at_step=2)
    with pytest.raises(KeyboardInterrupt):
        dpo(data, resumed)
    monkeypatch.undo()
    torch.manual_seed(1234)  # nothing but the checkpoint may carry state over
    dpo(data, resumed, resume=True)

    keys = ("loss", "replay_loss", "ewc_penalty", "l2_to_start_penalty", "reward_margin")
    for a, b in zip(rows(straight), rows(resumed), strict=True):
        assert [b[k] for k in keys] == pytest.approx([a[k] for k in keys], rel=1e-5, abs=1e-9)
    assert rows(straight)[-1]["ewc_penalty"] > 0
    assert read_summary(resumed)["status"] == "completed"


@pytest.mark.parametrize("method", ["grpo", "ppo"])
def test_online_methods_replay_and_anchor_through_the_same_wrapper(data, tmp_path, method):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": f"Say {w}."} for w in WORDS])
    cfg = tiny_config(
        prompts, tmp_path / "run", f"method.name={method}", f"model.name_or_path={TINY}",
        "method.reward_function=tests.toy_rewards:yes_share", "method.max_new_tokens=4",
        "train.max_steps=2", f"data.replay.path={data['general']}", "train.ewc.lambda=10",
        "train.ewc.fisher_samples=4", "train.l2_to_start=1",
    )  # fmt: skip
    if method == "grpo":
        cfg.method.num_generations = 2
    summary = train(cfg)
    assert summary["status"] == "completed"
    last = rows(tmp_path / "run")[-1]
    assert {"replay_loss", "ewc_penalty", "l2_to_start_penalty", "reward_mean"} <= set(last)
