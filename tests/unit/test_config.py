"""Config loading: YAML + dotted overrides into typed sections, and errors that point
at the file, line and key, with the fix."""

from __future__ import annotations

import pytest

from tests.helpers import write_yaml
from tuneforge.config import RunConfig, dump_config, load_config
from tuneforge.errors import ConfigError


def config_error(path, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides))
    return str(info.value)


def test_defaults_fill_every_section():
    cfg = load_config(None)
    assert cfg == RunConfig()
    assert cfg.adapter.type == "lora" and cfg.train.batch_size == 8 and cfg.data.packing is False


def test_yaml_then_overrides_in_order(tmp_path):
    path = write_yaml(tmp_path / "cfg.yaml", {"train": {"lr": 1e-3, "batch_size": 4}})
    cfg = load_config(
        path, ["train.lr=1e-4", "data.packing=true", "adapter.target_modules=[q_proj]"]
    )
    assert cfg.train.lr == pytest.approx(1e-4)  # YAML reads "1e-4" as a string: still a float
    assert cfg.train.batch_size == 4
    assert cfg.data.packing is True
    assert cfg.adapter.target_modules == ["q_proj"]


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(None, ["adapter.type=dora", "train.max_steps=7", "data.max_length=128"])
    dump_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_unknown_key_names_line_and_suggests(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("model:\n  name_or_path: tiny-random-llama\ntrain:\n  btach_size: 4\n")
    message = config_error(path)
    assert f"{path}:4: train.btach_size: unknown key; did you mean 'batch_size'?" in message


def test_unknown_section_suggests_the_section(tmp_path):
    path = write_yaml(tmp_path / "cfg.yaml", {"trian": {"lr": 1.0}})
    assert f"{path}:1: trian: unknown key; did you mean 'train'?" in config_error(path)


def test_unknown_key_without_close_match_lists_known_keys():
    message = config_error(None, ["data.zzz=1"])
    assert "data.zzz: unknown key; known keys: train, validation," in message


def test_wrong_type_names_expected_and_got(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("train:\n  lr: 1.0e-4\n  max_steps: three\n")
    assert f"{path}:3: train.max_steps: expected an integer, got 'three'" in config_error(path)
    assert "data.packing: expected true or false, got 'maybe'" in config_error(
        None, ["data.packing=maybe"]
    )


def test_bad_literal_lists_the_choices(tmp_path):
    path = write_yaml(tmp_path / "cfg.yaml", {"adapter": {"type": "loraa"}})
    message = config_error(path)
    assert f"{path}:2: adapter.type: got 'loraa', expected one of 'full', 'lora'" in message


def test_every_error_is_reported_at_once(tmp_path):
    path = write_yaml(tmp_path / "cfg.yaml", {"train": {"lr": "fast", "epochs": 0}})
    message = config_error(path)
    assert message.startswith("invalid config\n")
    assert "train.lr: expected a number, got 'fast'" in message
    assert "train.epochs:" in message


@pytest.mark.parametrize("item", ["train.lr", "lr=1e-4", "=3", ".lr=1", "train..lr=1", "train.=1"])
def test_bad_override_syntax(item):
    message = config_error(None, [item])
    assert message == f"override {item!r}: expected section.key=value, e.g. train.lr=1e-4"


def test_override_into_a_value_is_rejected():
    assert "'lr' is not a section" in config_error(None, ["train.lr=1", "train.lr.x=2"])


def test_packing_with_prompt_learning_is_rejected():
    message = config_error(None, ["data.packing=true", "adapter.type=prefix_tuning"])
    assert "data.packing cannot be combined with adapter.type 'prefix_tuning'" in message
    assert "set data.packing=false" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping of sections"),
    ],
)
def test_unreadable_files(tmp_path, text, expected):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    assert expected in config_error(path)


def test_missing_file():
    assert config_error("no/such.yaml") == "no/such.yaml: config file not found"


def test_empty_file_means_defaults(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("")
    assert load_config(path) == RunConfig()


def test_unknown_method_key_suggests_from_that_methods_settings(tmp_path):
    assert "method.betaa: unknown key; did you mean 'beta'?" in config_error(
        None, ["method.name=dpo", "method.betaa=0.1"]
    )
    path = write_yaml(tmp_path / "cfg.yaml", {"method": {"name": "ppo", "kl_targt": 3.0}})
    message = config_error(path, ["method.reward_function=m:f"])
    assert f"{path}:3: method.kl_targt: unknown key; did you mean 'kl_target'?" in message
