"""Every shipped example config (configs/*.yaml) loads and validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneforge.config import dump_config, load_config
from tuneforge.config.loading import load_yaml_into
from tuneforge.config.prepare import PrepareConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))


def test_shipped_configs_are_found():
    shipped = [p for p in CONFIG_DIR.glob("*") if p.is_file()] if CONFIG_DIR.is_dir() else []
    if shipped:
        assert CONFIGS, f"{CONFIG_DIR} holds files but none matches *.yaml"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_shipped_config_loads(path, tmp_path):
    cfg = load_config(path)
    dump_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == cfg


@pytest.mark.parametrize(
    "path", sorted((CONFIG_DIR / "data").glob("*.yaml")), ids=lambda path: path.name
)
def test_shipped_prepare_config_loads(path):
    cfg = load_yaml_into(PrepareConfig, path)
    assert cfg != PrepareConfig()  # it sets something
