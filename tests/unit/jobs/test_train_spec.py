"""A job request -> the config `tuneforge train` runs: the OpenAI fields mapped, our
extensions, the checkpoint schedule, refusals naming the request field, and model ids."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tuneforge.config import load_config
from tuneforge.config.online import OnlineMethodConfig
from tuneforge.jobs.hyperparameters import JobSpecError
from tuneforge.jobs.train_spec import (
    GRADER_REWARD,
    build_train_config,
    checkpoint_model_id,
    fine_tuned_model_id,
    validate_suffix,
)

TRAIN = Path("/data/files/file-train")
VALID = Path("/data/files/file-valid")
RUN = Path("/data/runs/ftjob-abc")
GRADER = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
          "reference": "{{item.reference_answer}}", "operation": "eq"}  # fmt: skip


def build(job: Any, n: int = 100, validation: Path | None = None) -> dict[str, Any]:
    return build_train_config(job, "tiny-random-llama", TRAIN, validation, RUN, n)


def test_supervised_defaults(tmp_path):
    config = build({"method": {"type": "supervised"}}, n=100, validation=VALID)
    assert config["method"]["name"] == "sft"
    assert config["model"]["name_or_path"] == "tiny-random-llama"
    assert config["data"] == {**config["data"], "train": str(TRAIN), "validation": str(VALID),
                              "validation_split": 0.0}  # fmt: skip
    train = config["train"]
    # 100 examples: 3 epochs (OpenAI's rule), batch 4, so 25 steps per epoch and 75 in all.
    assert (train["epochs"], train["batch_size"], train["grad_accum"]) == (3, 4, 1)
    assert train["lr"] == 2e-4
    assert (train["save_every"], train["eval_every"], train["keep_checkpoints"]) == (25, 25, 3)
    assert train["log_every"] == 3  # 75 // 20: about 20 rows
    assert config["adapter"] | {"type": "lora", "r": 16, "alpha": 32.0} == config["adapter"]
    assert config["adapter"]["target_modules"] == "all-linear"
    assert config["output"]["dir"] == str(RUN)


def test_the_config_is_what_tuneforge_train_loads(tmp_path):
    job = {"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.25, "n_epochs": 2}}},
           "seed": 7}  # fmt: skip
    config = build(job, n=40)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(path)
    assert loaded.model_dump(mode="json") == config
    assert (loaded.method.name, loaded.method.beta) == ("dpo", 0.25)
    assert (loaded.train.epochs, loaded.train.seed, loaded.train.lr) == (2, 7, 5e-5)
    assert loaded.train.eval_every is None  # no validation file, no evaluation


def test_without_validation_nothing_is_held_out():
    config = build({}, n=100)
    assert config["data"]["validation"] is None and config["data"]["validation_split"] == 0.0
    assert config["train"]["eval_every"] is None


def test_tiny_runs_log_every_step():
    config = build({"hyperparameters": {"n_epochs": 1, "batch_size": 10}}, n=10)
    assert config["train"]["save_every"] == 1 and config["train"]["log_every"] == 1


def test_the_deprecated_top_level_hyperparameters():
    config = build({"hyperparameters": {"n_epochs": 5, "learning_rate_multiplier": 0.5}})
    assert config["method"]["name"] == "sft"
    assert config["train"]["epochs"] == 5 and config["train"]["lr"] == pytest.approx(1e-4)


def supervised(**hyperparameters: Any) -> dict[str, Any]:
    return {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}


def test_top_level_and_method_hyperparameters_may_agree_but_not_conflict():
    agree = {"hyperparameters": {"n_epochs": 2}, "method": supervised(n_epochs=2)}
    assert build(agree)["train"]["epochs"] == 2
    conflict = {"hyperparameters": {"n_epochs": 2}, "method": supervised(n_epochs=4)}
    with pytest.raises(JobSpecError) as caught:
        build(conflict)
    assert caught.value.param == "hyperparameters.n_epochs"


@pytest.mark.parametrize(("method_type", "beta"), [("orpo", 0.1), ("simpo", 2.0), ("kto", 0.1)])
def test_tuneforge_methods_nest_like_openais(method_type, beta):
    config = build({"method": {"type": method_type}})
    assert config["method"]["name"] == method_type and config["method"]["beta"] == beta
    tuned = build({"method": {"type": method_type,
                              method_type: {"hyperparameters": {"beta": 0.5}}}})  # fmt: skip
    assert tuned["method"]["beta"] == 0.5


@pytest.mark.parametrize(
    ("adapter", "expected"),
    [
        ({"type": "qlora", "r": 8, "alpha": 16}, {"type": "qlora", "r": 8, "alpha": 16.0}),
        ({"type": "dora"}, {"type": "dora", "r": 16, "alpha": 32.0}),
        ({"type": "full"}, {"type": "full"}),
    ],
)
def test_the_adapter_extension(adapter, expected):
    config = build({"adapter": adapter})
    assert config["adapter"] | expected == config["adapter"]


def test_full_fine_tuning_lowers_the_learning_rate():
    assert build({"adapter": {"type": "full"}})["train"]["lr"] == pytest.approx(2e-5)


@dataclasses.dataclass
class JobRequest:
    method: dict | None = None
    hyperparameters: dict | None = None
    seed: int | None = None
    suffix: str | None = None


def test_a_dataclass_request():
    config = build(JobRequest(method={"type": "dpo"}, seed=3, suffix="mine"))
    assert config["method"]["name"] == "dpo" and config["train"]["seed"] == 3


@pytest.mark.skipif(
    "reward_kwargs" not in OnlineMethodConfig.model_fields,
    reason="OnlineMethodConfig has no reward_kwargs field yet (being added by another change)",
)
def test_reinforcement_becomes_grpo_with_the_grader():
    hyperparameters = {"compute_multiplier": 2, "eval_interval": 5}
    settings = {"grader": GRADER, "hyperparameters": hyperparameters}
    job = {"method": {"type": "reinforcement", "reinforcement": settings}}
    config = build(job, n=100, validation=VALID)
    method = config["method"]
    assert method["name"] == "grpo" and method["reward_function"] == GRADER_REWARD
    assert method["reward_kwargs"] == {"grader": GRADER}
    assert method["num_generations"] == 8
    assert config["train"]["eval_every"] == 5 and config["train"]["lr"] == 1e-4


@pytest.mark.parametrize(
    ("job", "param"),
    [
        ({"method": {"type": "reinforce"}}, "method.type"),
        ({"method": {"type": "dpo", "supervised": {}}}, "method.supervised"),
        ({"method": {"type": "dpo", "dpo": {"hyperparams": {}}}}, "method.dpo.hyperparams"),
        ({"method": {"type": "reinforcement", "reinforcement": {}}}, "method.reinforcement.grader"),
        ({"hyperparameters": {"beta": 0.1}}, "hyperparameters.beta"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        (
            {
                "method": {
                    "type": "supervised",
                    "supervised": {"hyperparameters": {"batch_size": 500}},
                }
            },
            "method.supervised.hyperparameters.batch_size",
        ),  # fmt: skip
        ({"adapter": {"type": "ia3"}}, "adapter.type"),
        ({"adapter": {"type": "lora", "rank": 8}}, "adapter.rank"),
        ({"adapter": {"type": "lora", "r": 0}}, "adapter.r"),
        ({"adapter": {"type": "full", "r": 8}}, "adapter.r"),
        ({"seed": "seven"}, "seed"),
        ({"suffix": "has:colon"}, "suffix"),
    ],
)
def test_refusals_name_the_request_field(job, param):
    with pytest.raises(JobSpecError) as caught:
        build(job)
    assert caught.value.param == param


def test_suffix_rules():
    assert validate_suffix(None) is None
    assert validate_suffix("a" * 64) == "a" * 64
    for bad in ("a" * 65, "", "two words", 5):
        with pytest.raises(JobSpecError):
            validate_suffix(bad)


ID = re.compile(r"^[A-Za-z0-9_.:@-]+$")


@pytest.mark.parametrize(
    ("base", "org", "suffix", "expected"),
    [
        (
            "smollm2-135m-instruct",
            "acme",
            "support-bot",
            "ft:smollm2-135m-instruct:acme:support-bot:abc12345",
        ),
        ("/models/My Llama:v2/", "acme", None, "ft:My-Llama-v2:acme::abc12345"),
        ("HuggingFaceTB/SmolLM2-135M", "org one", "x", "ft:SmolLM2-135M:org-one:x:abc12345"),
    ],
)
def test_fine_tuned_model_id(base, org, suffix, expected):
    model_id = fine_tuned_model_id(base, org, suffix, "ftjob-xyzabc12345")
    assert model_id == expected and ID.match(model_id)
    checkpoint = checkpoint_model_id(model_id, 75)
    assert checkpoint == f"{expected}:ckpt-step-75" and ID.match(checkpoint)
