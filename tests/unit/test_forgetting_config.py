"""The settings against forgetting: `data.replay`, `train.ewc` (YAML key `lambda`, a
Python keyword) and `train.l2_to_start`; the errors that name their fix; and a resume
refuses to change them, as it refuses every setting that changes what a step computes."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers import write_yaml
from tuneforge.config import dump_config, load_config
from tuneforge.errors import ConfigError
from tuneforge.train.resume_check import compare

BASE = ["data.train=train.jsonl", "data.replay.path=general.jsonl"]


def config_error(*overrides: str, path=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides))
    return str(info.value)


def test_off_by_default():
    cfg = load_config(None)
    assert cfg.data.replay is None and cfg.train.ewc is None and cfg.train.l2_to_start == 0.0


def test_yaml_and_dotted_overrides_both_say_lambda(tmp_path):
    path = write_yaml(
        tmp_path / "cfg.yaml",
        {
            "data": {"replay": {"path": "general.jsonl", "ratio": 0.5}},
            "train": {"ewc": {"lambda": 100, "fisher_samples": 8}, "l2_to_start": 0.1},
        },
    )
    cfg = load_config(path)
    assert (cfg.data.replay.path, cfg.data.replay.ratio) == ("general.jsonl", 0.5)
    assert (cfg.train.ewc.lambda_, cfg.train.ewc.fisher_samples) == (100.0, 8)
    assert cfg.train.ewc.data is None and cfg.train.l2_to_start == 0.1
    cfg = load_config(path, ["train.ewc.lambda=250", "train.ewc.data=other.jsonl"])
    assert (cfg.train.ewc.lambda_, cfg.train.ewc.data) == (250.0, "other.jsonl")
    assert load_config(None, [*BASE, "train.ewc.lambda=3"]).data.replay.ratio == 0.25


def test_the_resolved_config_writes_lambda_and_reads_back(tmp_path):
    cfg = load_config(None, [*BASE, "train.ewc.lambda=100"])
    dump_config(cfg, tmp_path / "config.yaml")
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert written["train"]["ewc"] == {"lambda": 100.0, "fisher_samples": 64, "data": None}
    assert load_config(tmp_path / "config.yaml") == cfg


def test_a_typo_gets_a_suggestion_by_the_yaml_name(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("data:\n  replay:\n    path: g.jsonl\ntrain:\n  ewc:\n    lamda: 1\n")
    message = config_error(path=path)
    assert f"{path}:6: train.ewc.lamda: unknown key; did you mean 'lambda'?" in message
    assert "train.ewc.lambda: missing: this key has no default, set it" in message
    assert "did you mean 'ratio'?" in config_error(*BASE, "data.replay.ration=1")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["data.replay.ratio=0"], "data.replay.ratio: expected a number > 0"),
        (["train.l2_to_start=-1"], "train.l2_to_start: expected a number >= 0"),
        (["train.ewc.lambda=0"], "train.ewc.lambda: expected a number > 0"),
        (["train.ewc.lambda=1", "train.ewc.fisher_samples=0"], "train.ewc.fisher_samples"),
    ],
)
def test_bad_values_are_named(overrides, expected):
    assert expected in config_error(*BASE, *overrides)


def test_ewc_without_general_data_names_the_fix():
    message = config_error("train.ewc.lambda=10")
    assert "train.ewc needs general data" in message
    assert "set train.ewc.data=general.jsonl (or data.replay.path" in message
    assert load_config(None, ["train.ewc.lambda=10", "train.ewc.data=g.jsonl"]).train.ewc


@pytest.mark.parametrize("setting", ["data.replay.path=g.jsonl", "train.ewc.data=g.jsonl"])
def test_a_reward_model_has_no_language_head_to_replay_or_measure(setting):
    overrides = ["method.name=reward", setting, "train.ewc.lambda=1"]
    if setting.startswith("data"):
        overrides.pop()
    message = config_error(*overrides)
    assert "need a language-model head" in message and "method 'reward'" in message
    assert load_config(None, ["method.name=reward", "train.l2_to_start=1"]).train.l2_to_start


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.l2_to_start=0.5", "train.l2_to_start"),
        ("data.replay.ratio=0.5", "data.replay.ratio"),
        ("train.ewc.lambda=20", "train.ewc.lambda"),
    ],
)
def test_resume_refuses_to_change_them(override, key):
    start = [*BASE, "train.ewc.lambda=10"]
    diff = compare(load_config(None, start), load_config(None, [*start, override]))
    assert list(diff.refused) == [key] and diff.accepted == {}
