"""Resolving a job's hyperparameters: OpenAI's epoch rule by hand, our batch rule, the
learning rate against the shipped configs, and every refusal naming its field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tuneforge.jobs.hyperparameters import (
    LEARNING_RATE_KEY,
    METHOD_DEFAULT_LR,
    METHOD_NAMES,
    JobSpecError,
    auto_batch_size,
    auto_n_epochs,
    grpo_group_size,
    resolve_hyperparameters,
)

CONFIGS = Path(__file__).resolve().parents[3] / "configs"


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        (1, 25),  # 100 // 1 = 100, capped at 25
        (4, 25),  # 100 // 4 = 25
        (5, 20),
        (9, 11),  # 100 // 9 = 11 (floor, as OpenAI's notebook computes it)
        (10, 10),
        (33, 3),  # 33 x 3 = 99 < 100, but 100 // 33 = 3
        (34, 3),  # 34 x 3 = 102: the target
        (8333, 3),  # 24,999 examples seen: still the target
        (8334, 2),  # 25,002 > 25,000: 25000 // 8334 = 2
        (30_000, 1),
    ],
)
def test_epochs_follow_openais_rule(n, epochs):
    assert auto_n_epochs(n) == epochs


@pytest.mark.parametrize(
    ("n", "batch"),
    [
        (2, 2),  # never more than the examples
        (10, 4),  # the floor of 4
        (4000, 8),  # 0.2% = 8
        (5000, 8),  # 0.2% = 10, down to a power of two
        (8334, 16),  # 16.7 -> 16
        (200_000, 256),  # 400 -> capped at 256
    ],
)
def test_batch_size_is_a_fraction_of_the_examples(n, batch):
    assert auto_batch_size(n) == batch


def test_auto_fills_every_value_for_supervised():
    resolved = resolve_hyperparameters("supervised", {}, 100, 2e-4)
    assert resolved == {
        "n_epochs": 3,
        "batch_size": 4,
        "learning_rate_multiplier": 1.0,
        LEARNING_RATE_KEY: 2e-4,
    }


def test_given_values_are_kept_and_the_rate_is_scaled():
    requested = {"n_epochs": 2, "batch_size": 8, "learning_rate_multiplier": 0.5}
    resolved = resolve_hyperparameters("supervised", requested, 100, 2e-4)
    assert (resolved["n_epochs"], resolved["batch_size"]) == (2, 8)
    assert resolved[LEARNING_RATE_KEY] == pytest.approx(1e-4)


def test_full_fine_tuning_starts_ten_times_lower():
    resolved = resolve_hyperparameters("supervised", {}, 100, 2e-4, adapter_type="full")
    assert resolved["learning_rate_multiplier"] == 0.1
    assert resolved[LEARNING_RATE_KEY] == pytest.approx(2e-5)  # configs/sft-full.yaml's lr


def test_dpo_beta_defaults_to_the_config_default():
    assert resolve_hyperparameters("dpo", {}, 100, 5e-5)["beta"] == 0.1
    assert resolve_hyperparameters("dpo", {"beta": 0.3}, 100, 5e-5)["beta"] == 0.3
    assert resolve_hyperparameters("simpo", {}, 100, 5e-5)["beta"] == 2.0  # SimPOConfig's


def test_reinforcement_maps_compute_and_evaluation():
    resolved = resolve_hyperparameters(
        "reinforcement", {"compute_multiplier": 2, "eval_interval": 5}, 100, 1e-4
    )
    assert resolved["eval_interval"] == 5
    assert grpo_group_size(resolved["compute_multiplier"]) == 8
    auto = resolve_hyperparameters("reinforcement", {}, 100, 1e-4)
    assert auto["eval_interval"] == 25  # one epoch: ceil(100 / 4)
    assert (auto["eval_samples"], auto["reasoning_effort"]) == (1, "default")
    assert grpo_group_size(0.1) == 2  # GRPO compares at least two completions


def test_null_means_auto():
    resolved = resolve_hyperparameters("supervised", {"n_epochs": None}, 100, 2e-4)
    assert resolved["n_epochs"] == 3


@pytest.mark.parametrize(
    ("method", "requested", "param"),
    [
        ("supervised", {"n_epochs": 0}, "method.supervised.hyperparameters.n_epochs"),
        ("supervised", {"n_epochs": 51}, "method.supervised.hyperparameters.n_epochs"),
        ("supervised", {"n_epochs": "three"}, "method.supervised.hyperparameters.n_epochs"),
        ("supervised", {"n_epochs": 2.5}, "method.supervised.hyperparameters.n_epochs"),
        ("supervised", {"n_epochs": True}, "method.supervised.hyperparameters.n_epochs"),
        ("supervised", {"batch_size": 101}, "method.supervised.hyperparameters.batch_size"),
        ("supervised", {"batch_size": 0}, "method.supervised.hyperparameters.batch_size"),
        (
            "supervised",
            {"learning_rate_multiplier": -1},
            "method.supervised.hyperparameters.learning_rate_multiplier",
        ),
        (
            "supervised",
            {"learning_rate_multiplier": float("nan")},
            "method.supervised.hyperparameters.learning_rate_multiplier",
        ),
        ("supervised", {"beta": 0.1}, "method.supervised.hyperparameters.beta"),
        ("dpo", {"beta": 0}, "method.dpo.hyperparameters.beta"),
        ("dpo", {"bta": 0.1}, "method.dpo.hyperparameters.bta"),
        (
            "reinforcement",
            {"reasoning_effort": "high"},
            "method.reinforcement.hyperparameters.reasoning_effort",
        ),
        (
            "reinforcement",
            {"eval_samples": 4},
            "method.reinforcement.hyperparameters.eval_samples",
        ),
        (
            "reinforcement",
            {"compute_multiplier": 0},
            "method.reinforcement.hyperparameters.compute_multiplier",
        ),
        (
            "reinforcement",
            {"eval_interval": 0},
            "method.reinforcement.hyperparameters.eval_interval",
        ),
    ],
)
def test_bad_values_name_their_field(method, requested, param):
    with pytest.raises(JobSpecError) as caught:
        resolve_hyperparameters(method, requested, 100, 1e-4)
    assert caught.value.param == param
    key = param.rsplit(".", 1)[-1]
    assert key in str(caught.value)


def test_batch_size_above_the_examples_says_how_many():
    with pytest.raises(JobSpecError, match="larger than the 12 training examples"):
        resolve_hyperparameters("supervised", {"batch_size": 16}, 12, 2e-4)


def test_the_prefix_names_the_deprecated_top_level():
    with pytest.raises(JobSpecError) as caught:
        resolve_hyperparameters(
            "supervised", {"n_epochs": 0}, 100, 2e-4, param_prefix="hyperparameters"
        )
    assert caught.value.param == "hyperparameters.n_epochs"


def test_an_unknown_method_is_refused():
    with pytest.raises(JobSpecError) as caught:
        resolve_hyperparameters("ppo", {}, 100, 1e-4)
    assert caught.value.param == "method.type"


@pytest.mark.parametrize("method_type", sorted(METHOD_DEFAULT_LR))
def test_default_learning_rates_match_the_shipped_configs(method_type):
    name = METHOD_NAMES[method_type]
    shipped = yaml.safe_load((CONFIGS / f"{name}-lora.yaml").read_text())
    assert shipped["method"]["name"] == name
    assert METHOD_DEFAULT_LR[method_type] == shipped["train"]["lr"]
