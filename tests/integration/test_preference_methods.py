"""Preference methods on the tiny model: the DPO reference is exactly the starting
model, precomputed and on-the-fly reference log-probs agree, every method learns a
planted preference, and a killed run of every paired method resumes to the same result
as a straight one."""

from __future__ import annotations

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
from tuneforge.config import load_config
from tuneforge.models import attach_adapter, load_model, load_tokenizer
from tuneforge.models.logprobs import sequence_logps
from tuneforge.train import train
from tuneforge.train.pair_batches import PairPlan
from tuneforge.train.paired import tokenize_pairs
from tuneforge.train.reference import Reference, precomputed
from tuneforge.train.setup import make_accelerator

COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]


def preference_records(n: int = 40, seed: int = 0) -> list[dict]:
    """Chosen replies name the color; rejected ones refuse: learnable in a few steps."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        color = rng.choice(COLORS)
        records.append(
            {
                "prompt": f"Name a color like {color}.",
                "chosen": f"{color.capitalize()} is a fine color.",
                "rejected": "I refuse to answer that.",
            }
        )
    return records


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("data") / "pairs.jsonl", preference_records())


def dpo_config(pairs_file, out, *overrides):
    return tiny_config(
        pairs_file, out, "method.name=dpo", "train.lr=5e-3", "data.validation_split=0.2",
        "train.eval_every=3", *overrides,
    )  # fmt: skip


def quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def lora_setup(tuneforge_cache):
    from tuneforge.data.readers import read_examples

    cfg = load_config(None, [f"model.name_or_path={TINY}", "method.name=dpo"])
    tokenizer = load_tokenizer(TINY)
    base = load_model(cfg.model)
    path = write_jsonl(tuneforge_cache / "dpo-pairs.jsonl", preference_records(12))
    pairs, _, _ = tokenize_pairs(read_examples(path, kind="preference"), tokenizer, 64)
    plan = PairPlan(pairs, 4, tokenizer.pad_token_id, seed=0, group_by_length=False)
    return cfg, base, plan


def test_disabled_adapter_reference_is_exactly_the_base_model(lora_setup):
    cfg, base, plan = lora_setup
    batch = plan.collate([0, 1, 2, 3]).sequences
    with torch.no_grad():
        expected = sequence_logps(base, batch, direct_head=True)[0]
    model = attach_adapter(base, cfg.adapter)
    with torch.no_grad():  # make the adapter matter, as after some training
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.5)
        policy = sequence_logps(model, batch, direct_head=True)[0]
    reference = Reference(model, make_accelerator(cfg.train), True, uses_adapter=True)
    assert not torch.allclose(policy, expected)
    assert torch.equal(reference.logps(batch), expected)
    model.unload()  # give the module-scoped base model back without LoRA layers


def test_precomputed_reference_equals_on_the_fly(lora_setup, tmp_path):
    cfg, base, plan = lora_setup
    model = attach_adapter(base, cfg.adapter)
    reference = Reference(model, make_accelerator(cfg.train), True, uses_adapter=True)
    cached = precomputed(reference, plan, tmp_path / "ref.pt", TINY)
    for batch in plan.in_order():
        chosen, rejected = reference.logps(batch.sequences).chunk(2)
        torch.testing.assert_close(cached[batch.indices], torch.stack([chosen, rejected], 1))
    again = precomputed(reference, plan, tmp_path / "ref.pt", TINY)  # from the cache
    assert torch.equal(again, cached)
    model.unload()


@pytest.mark.parametrize("precompute", [True, False])
def test_dpo_learns_a_planted_preference(pairs_file, tmp_path, precompute):
    cfg = dpo_config(pairs_file, tmp_path / "run", f"method.precompute_reference={precompute}")
    summary = train(cfg)
    rows = read_metrics(tmp_path / "run")
    first, last = rows[0], [r for r in rows if "loss" in r][-1]
    final_eval = [r for r in rows if "eval_loss" in r][-1]
    assert first["loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 1
    assert first["reward_margin"] == pytest.approx(0.0, abs=1e-4)
    assert last["reward_margin"] > 0.2 and last["reward_accuracy"] == 1.0
    assert final_eval["eval_reward_accuracy"] == 1.0 and final_eval["eval_reward_margin"] > 0.2
    assert summary["status"] == "completed" and summary["method"] == "dpo"
    assert (tmp_path / "run" / "reference_logps.pt").exists() == precompute


@pytest.mark.parametrize("loss", ["ipo", "hinge", "robust", "reference_free"])
def test_every_dpo_loss_trains(pairs_file, tmp_path, loss):
    smoothing = "method.label_smoothing=0.1" if loss == "robust" else "method.beta=0.1"
    summary = train(
        dpo_config(
            pairs_file, tmp_path / loss, f"method.loss={loss}", smoothing, "train.max_steps=2"
        )
    )
    assert summary["status"] == "completed"


def test_full_fine_tuning_uses_a_frozen_copy(pairs_file, tmp_path):
    cfg = dpo_config(
        pairs_file, tmp_path / "full", "adapter.type=full", "train.lr=1e-3",
        "method.precompute_reference=false", "method.rpo_alpha=0.5",
    )  # fmt: skip
    train(cfg)
    rows = [r for r in read_metrics(tmp_path / "full") if "loss" in r]
    assert rows[0]["reward_margin"] == pytest.approx(0.0, abs=1e-4)
    assert rows[-1]["reward_margin"] > 0
    assert (tmp_path / "full" / "model" / "config.json").exists()


@pytest.mark.parametrize("method", ["dpo", "orpo", "simpo", "kto", "reward"])
def test_resume_equals_a_straight_run(pairs_file, tmp_path, monkeypatch, method):
    common = [f"method.name={method}", "adapter.dropout=0.1", "train.max_steps=4",
              "train.save_every=2"]  # fmt: skip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(dpo_config(pairs_file, straight, *common))
    interrupt_after_checkpoint(monkeypatch, at_step=2)
    with pytest.raises(KeyboardInterrupt):
        train(dpo_config(pairs_file, resumed, *common))
    monkeypatch.undo()
    assert read_summary(resumed)["status"] == "interrupted"
    torch.manual_seed(1234)
    train(dpo_config(pairs_file, resumed, *common), resume=True)
    losses = lambda run: [r["loss"] for r in read_metrics(run) if "loss" in r]  # noqa: E731
    assert losses(resumed) == pytest.approx(losses(straight), rel=1e-6)
    assert read_summary(resumed)["status"] == "completed"


@pytest.mark.parametrize("method", ["orpo", "simpo"])
def test_reference_free_methods_learn_the_preference(pairs_file, tmp_path, method):
    cfg = tiny_config(
        pairs_file, tmp_path / method, f"method.name={method}", "train.lr=5e-3",
        "data.validation_split=0.2", "train.eval_every=3", "train.max_steps=4",
    )  # fmt: skip
    train(cfg)
    rows = read_metrics(tmp_path / method)
    train_rows = [r for r in rows if "loss" in r]
    final_eval = [r for r in rows if "eval_loss" in r][-1]
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]
    assert train_rows[-1]["reward_margin"] > train_rows[0]["reward_margin"]
    assert final_eval["eval_reward_accuracy"] == 1.0


def test_kto_learns_from_unpaired_labels(tmp_path):
    """Half the replies name the color (desirable), half refuse (undesirable)."""
    records = [
        {
            "prompt": r["prompt"],
            "completion": r["chosen"] if i % 2 else r["rejected"],
            "label": bool(i % 2),
        }
        for i, r in enumerate(preference_records(48))
    ]
    data = write_jsonl(tmp_path / "kto.jsonl", records)
    cfg = tiny_config(
        data, tmp_path / "kto", "method.name=kto", "train.lr=5e-3", "train.max_steps=6",
        "data.validation_split=0.2", "train.eval_every=6",
    )  # fmt: skip
    train(cfg)
    final_eval = [r for r in read_metrics(tmp_path / "kto") if "eval_loss" in r][-1]
    assert final_eval["eval_chosen_reward"] > 0 > final_eval["eval_rejected_reward"]
    assert final_eval["eval_reward_accuracy"] >= 0.9
    assert (tmp_path / "kto" / "reference_logps.pt").exists()


def test_kto_needs_both_labels(tmp_path):
    from tuneforge.errors import DataError

    records = [{"prompt": "a", "completion": "b", "label": True}] * 4
    data = write_jsonl(tmp_path / "kto.jsonl", records)
    with pytest.raises(DataError, match="both desirable and undesirable"):
        train(tiny_config(data, tmp_path / "run", "method.name=kto"))
    assert not (tmp_path / "run").exists()


def test_packed_pairs_give_the_same_losses_as_padded_rows(pairs_file, tmp_path):
    """Packing only removes padding: the per-step losses and metrics match."""
    common = ["train.max_steps=3", "adapter.dropout=0", "train.max_tokens_per_forward=null"]
    train(dpo_config(pairs_file, tmp_path / "padded", "data.packing=false", *common))
    train(dpo_config(pairs_file, tmp_path / "packed", "data.packing=true", *common))
    rows = lambda run: [r for r in read_metrics(run) if "loss" in r]  # noqa: E731
    for padded, packed in zip(rows(tmp_path / "padded"), rows(tmp_path / "packed"), strict=True):
        for key in ("loss", "reward_margin", "chosen_logp", "rejected_logp"):
            assert packed[key] == pytest.approx(padded[key], rel=1e-4, abs=1e-4)


def test_packed_pairs_split_into_forward_passes_of_whole_pairs(pairs_file, tmp_path):
    common = ["train.max_steps=2", "adapter.dropout=0", "data.packing=true"]
    train(dpo_config(pairs_file, tmp_path / "one", "train.max_tokens_per_forward=null", *common))
    train(dpo_config(pairs_file, tmp_path / "split", "train.max_tokens_per_forward=64", *common))
    losses = lambda run: [r["loss"] for r in read_metrics(run) if "loss" in r]  # noqa: E731
    assert losses(tmp_path / "split") == pytest.approx(losses(tmp_path / "one"), rel=1e-4)


def test_long_prompts_are_shortened_and_unfittable_pairs_reported(tmp_path, capsys):
    long_prompt = {"prompt": "word " * 300, "chosen": "Red.", "rejected": "No."}
    huge_system = {
        "prompt": [{"role": "system", "content": "rule " * 300}, {"role": "user", "content": "Hi"}],
        "chosen": "Red.", "rejected": "No.",
    }  # fmt: skip
    records = [*preference_records(12), long_prompt, huge_system]
    data = write_jsonl(tmp_path / "pairs.jsonl", records)
    cfg = dpo_config(
        data, tmp_path / "run", "train.max_steps=1", "data.max_length=64",
        "data.validation_split=0",
    )  # fmt: skip
    summary = train(cfg)
    # The long user turn keeps its end; only the system message that cannot fit costs a pair.
    assert summary["data"]["shortened_prompts"] == 1
    assert summary["data"]["dropped_no_target"] == 1
    err = capsys.readouterr().err
    assert "1 of 14 training records dropped" in err
    assert "1 prompts shortened to fit data.max_length=64" in err
