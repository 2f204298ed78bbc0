"""The loss task: the number a validation row of training shows, per token, from any SFT file.

The run trains with data.max_length=64 (tests.helpers.tiny_overrides), so the task is
given the same bound wherever its numbers are compared with training's."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import chat_records, read_metrics, tiny_overrides, write_jsonl, write_yaml
from tuneforge.cli.main import main as tuneforge
from tuneforge.data import IGNORE
from tuneforge.data.records import parse_records
from tuneforge.data.templating import tokenize_examples
from tuneforge.eval.models import ModelSet
from tuneforge.eval.tasks.loss import run_loss


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tuneforge_cache):
    """A 3-step LoRA run that evaluates its validation file at its last step."""
    root = tmp_path_factory.mktemp("eval-loss")
    train = write_jsonl(root / "train.jsonl", chat_records(16, seed=1))
    valid = write_jsonl(root / "valid.jsonl", chat_records(6, seed=2))
    config = write_yaml(root / "run.yaml", {})
    overrides = [*tiny_overrides(train, root / "run"), f"data.validation={valid}"]
    assert tuneforge(["train", str(config), *overrides, "train.eval_every=3"]) == 0
    return root / "run", valid


def test_loss_equals_trainings_validation_row(trained):
    run, valid = trained
    (row,) = [r for r in read_metrics(run) if "eval_loss" in r and r["step"] == 3]
    with ModelSet(None, [str(run)]).use(str(run)) as (model, tokenizer):
        scores = run_loss(model, tokenizer, valid, max_length=64)
    summary = scores.summary()
    assert summary["n"] == 6 and summary["dropped"] == 0
    assert summary["metrics"]["loss"] == pytest.approx(row["eval_loss"], abs=1e-4)
    assert summary["metrics"]["token_accuracy"] == pytest.approx(
        row["eval_token_accuracy"], abs=1e-6
    )
    assert summary["metrics"]["perplexity"] == pytest.approx(math.exp(row["eval_loss"]), rel=1e-4)
    low, high = summary["ci"]["loss"]
    assert low <= summary["metrics"]["loss"] <= high


def test_each_example_matches_a_plain_forward_pass(trained):
    """Example i's summed loss, worked without batching: one forward pass over its tokens,
    log-softmax, and -sum of log p(target) where the template marks a trained token."""
    run, valid = trained
    records = chat_records(6, seed=2)
    with ModelSet(None, [str(run)]).use(str(run)) as (model, tokenizer):
        scores = run_loss(model, tokenizer, valid, max_length=64, batch_size=4)
        examples = [e for i, r in enumerate(records) for e in parse_records(r, "v", i + 1)]
        tokenized, _ = tokenize_examples(examples, tokenizer, 64)
        for k, example in enumerate(tokenized):
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([example.input_ids])).logits[0]
            logps = torch.log_softmax(logits.float(), -1)
            targets = torch.tensor(example.targets)
            trained_at = targets != IGNORE
            expected = -logps[trained_at].gather(1, targets[trained_at][:, None]).sum()
            assert scores.metrics["loss"].values[k] == pytest.approx(float(expected), abs=1e-4)
            assert scores.metrics["loss"].weights[k] == int(trained_at.sum())


def test_batch_size_does_not_change_a_number(trained):
    run, valid = trained
    with ModelSet(None, [str(run)]).use(str(run)) as (model, tokenizer):
        one = run_loss(model, tokenizer, valid, max_length=64, batch_size=1)
        many = run_loss(model, tokenizer, valid, max_length=64, batch_size=8)
    assert one.metrics["loss"].values == pytest.approx(many.metrics["loss"].values, abs=1e-4)
    assert one.metrics["token_accuracy"].values == many.metrics["token_accuracy"].values


def test_the_base_and_its_adapter_share_one_load(trained):
    run, valid = trained
    models = ModelSet(None, [str(run)])
    assert models.ids[1] == str(run)
    with models.use(models.base) as (model, tokenizer):
        base = run_loss(model, tokenizer, valid, max_length=64).summary()["metrics"]["loss"]
    with models.use(str(run)) as (model, tokenizer):
        tuned = run_loss(model, tokenizer, valid, max_length=64).summary()["metrics"]["loss"]
    with models.use(models.base) as (model, tokenizer):  # the adapter switched off again
        assert run_loss(model, tokenizer, valid, max_length=64).summary()["metrics"]["loss"] == base
    assert tuned != base
