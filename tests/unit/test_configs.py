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


@pytest.mark.parametrize(
    "path", sorted((CONFIG_DIR / "eval").glob("*.yaml")), ids=lambda path: path.name
)
def test_shipped_eval_config_loads_and_shows_every_option(path):
    from tuneforge.config.eval import EvalConfig, TaskConfig

    cfg = load_yaml_into(EvalConfig, path)
    assert {t.kind for t in cfg.tasks} == {"loss", "generate", "choice", "preference"}
    written = path.read_text()
    for name in (*EvalConfig.model_fields, *TaskConfig.model_fields):
        assert f"{name}:" in written, f"{path.name} does not show `{name}`"
    assert "\n" in next(t for t in cfg.tasks if t.kind == "generate").stop[0]


def test_an_eval_task_key_typo_gets_a_suggestion(tmp_path):
    from tuneforge.config.eval import EvalConfig
    from tuneforge.errors import ConfigError

    config = tmp_path / "eval.yaml"
    config.write_text("tasks:\n  - kind: loss\n    path: x.jsonl\n    max_lenght: 64\n")
    with pytest.raises(ConfigError, match="max_length"):
        load_yaml_into(EvalConfig, config)


@pytest.mark.parametrize(
    "path", sorted((CONFIG_DIR / "report").glob("*.yaml")), ids=lambda path: path.name
)
def test_shipped_report_config_loads_and_shows_every_option(path):
    from tuneforge.config.report import ReportConfig

    cfg = load_yaml_into(ReportConfig, path)
    written = path.read_text()
    for name in ReportConfig.model_fields:
        assert f"{name}:" in written, f"{path.name} does not show `{name}`"
    assert cfg.tasks and cfg.general_tasks


@pytest.mark.parametrize(
    "path", sorted((CONFIG_DIR / "merge").glob("*.yaml")), ids=lambda path: path.name
)
def test_shipped_merge_config_loads_and_its_parameters_are_known(path):
    from tuneforge.config.merge import LORA_MERGE, MergeConfig
    from tuneforge.merge.methods import check_parameters, get_method

    def last_values(params):  # a filtered parameter checked by its default entry
        return {k: v[-1]["value"] if isinstance(v, list) else v for k, v in params.items()}

    cfg = load_yaml_into(MergeConfig, path)
    if cfg.merge_method != LORA_MERGE:
        per_model = [last_values(m.parameters) for m in cfg.models]
        check_parameters(get_method(cfg.merge_method), last_values(cfg.parameters), per_model)
