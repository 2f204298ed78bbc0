"""`--resume` continues a run only with a config that computes the same run: a change
to data, model, adapter, method, optimizer, schedule, batch, seed or precision is
refused with every differing key; when to log/evaluate/save, memory knobs, where the
run lives and a longer run are accepted. Checking writes nothing."""

from __future__ import annotations

import pytest

from tuneforge.config import RunConfig, load_config
from tuneforge.errors import ConfigError
from tuneforge.run_dir import RunDir
from tuneforge.train.resume_check import (
    RAISE_ONLY,
    SAFE,
    check_resume,
    compare,
    describe,
    flatten,
)

BASE = ["data.train=train.jsonl", "train.max_steps=4", "train.lr=1e-3", "output.dir=runs/a"]


def config(*overrides: str) -> RunConfig:
    return load_config(None, [*BASE, *overrides])


def test_the_same_config_resumes_with_no_change():
    diff = compare(config(), config())
    assert diff.accepted == {} and diff.refused == {}


@pytest.mark.parametrize(
    ("override", "key", "old", "new"),
    [
        ("train.lr=2e-3", "train.lr", 1e-3, 2e-3),
        ("data.train=other.jsonl", "data.train", "train.jsonl", "other.jsonl"),
        ("data.max_length=512", "data.max_length", 1024, 512),
        ("model.name_or_path=other-model", "model.name_or_path", "smollm2-135m-instruct",
         "other-model"),
        ("adapter.r=8", "adapter.r", 16, 8),
        ("adapter.target_modules=[q_proj]", "adapter.target_modules", "all-linear", ["q_proj"]),
        ("train.batch_size=4", "train.batch_size", 8, 4),
        ("train.grad_accum=2", "train.grad_accum", 1, 2),
        ("train.scheduler=linear", "train.scheduler", "cosine", "linear"),
        ("train.seed=1", "train.seed", 42, 1),
        ("train.mixed_precision=bf16", "train.mixed_precision", "auto", "bf16"),
        ("model.dtype=float32", "model.dtype", "auto", "float32"),
    ],
)  # fmt: skip
def test_a_change_to_what_the_run_computes_is_refused(override, key, old, new):
    diff = compare(config(), config(override))
    assert diff.refused == {key: (old, new)} and diff.accepted == {}


@pytest.mark.parametrize(
    "override",
    [
        "train.log_every=5", "train.eval_every=2", "train.save_every=1",
        "train.keep_checkpoints=5", "train.early_stopping_patience=3",
        "train.max_tokens_per_forward=256", "model.gradient_checkpointing=true",
        "output.dir=runs/moved", "output.overwrite=true",
        "train.max_steps=10", "train.epochs=3",
    ],
)  # fmt: skip
def test_when_to_log_evaluate_save_memory_and_a_longer_run_are_accepted(override):
    key = override.partition("=")[0]
    diff = compare(config(), config(override))
    assert list(diff.accepted) == [key] and diff.refused == {}


def test_the_report_settings_may_change_on_resume():
    """eval: runs after training, on the saved product: adding or changing it is accepted."""
    diff = compare(config(), config("eval.general_probe=false"))
    assert diff.refused == {} and diff.accepted["eval.general_probe"][1] is False
    with_eval = config("eval.alpha=0.1")
    diff = compare(with_eval, config("eval.alpha=0.01"))
    assert diff.accepted == {"eval.alpha": (0.1, 0.01)} and diff.refused == {}


@pytest.mark.parametrize(
    ("override", "old", "new"),
    [("train.max_steps=2", 4, 2), ("train.max_steps=null", 4, None)],
)
def test_a_shorter_or_unbounded_run_is_refused_with_the_reason(override, old, new):
    diff = compare(config(), config(override))
    assert diff.refused == {"train.max_steps": (old, new)}
    assert diff.why_refused["train.max_steps"] == "can only be raised when resuming"


def test_another_method_is_reported_by_its_name_alone():
    diff = compare(config(), config("method.name=dpo"))
    assert list(diff.refused) == ["method.name"]
    assert diff.refused["method.name"] == ("sft", "dpo")


def test_a_method_setting_is_refused():
    diff = compare(config("method.name=dpo"), config("method.name=dpo", "method.beta=0.5"))
    assert list(diff.refused) == ["method.beta"]


def test_every_safe_key_is_a_real_setting():
    """A renamed setting would silently stop being accepted (or refused)."""
    keys = flatten(RunConfig().model_dump(mode="json"))
    assert set(SAFE) <= keys.keys() and set(RAISE_ONLY) <= keys.keys()


def test_describe_lists_old_and_new_as_yaml_writes_them():
    changes = {"train.log_every": (1, 2), "train.eval_every": (None, 5)}
    assert describe(changes) == "train.log_every 1 -> 2, train.eval_every null -> 5"


def saved_run(tmp_path, cfg: RunConfig) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    run.write_config(cfg.model_dump(mode="json"))
    return run


def test_check_resume_refuses_with_every_key_and_writes_nothing(tmp_path):
    run = saved_run(tmp_path, config())
    before = run.config.read_bytes()
    with pytest.raises(ConfigError) as info:
        check_resume(run, config("train.lr=5e-4", "adapter.r=4", "train.max_steps=3"))
    message = str(info.value)
    assert message.startswith(f"cannot resume {run.root}: these settings differ")
    assert "  adapter.r: 16 -> 4\n" in message
    assert "  train.lr: 0.001 -> 0.0005\n" in message
    assert "  train.max_steps: 4 -> 3 (can only be raised when resuming)\n" in message
    assert f"Put them back as in {run.config}" in message
    assert "raised only: train.max_steps, train.epochs" in message
    assert run.config.read_bytes() == before
    assert [p.name for p in run.root.iterdir()] == ["config.yaml"]


def test_check_resume_returns_the_accepted_changes(tmp_path):
    run = saved_run(tmp_path, config())
    changes = check_resume(run, config("train.log_every=3", "train.max_steps=8"))
    assert changes == {"train.max_steps": (4, 8), "train.log_every": (10, 3)}


def test_resume_needs_a_run(tmp_path):
    with pytest.raises(ConfigError, match="does not exist, so there is no run to continue"):
        check_resume(RunDir(tmp_path / "nowhere"), config())
    with pytest.raises(ConfigError, match="is not a run directory \\(it has no config.yaml\\)"):
        check_resume(RunDir(tmp_path), config())


def test_a_saved_config_that_no_longer_loads_is_named(tmp_path):
    run = saved_run(tmp_path, config())
    run.config.write_text("train:\n  lrr: 1\n")
    with pytest.raises(ConfigError) as info:
        check_resume(run, config())
    assert "saved config no longer loads" in str(info.value)
    assert f"{run.config}:2: train.lrr: unknown key" in str(info.value)
