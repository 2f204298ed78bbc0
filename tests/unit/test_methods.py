"""A method is declared once, in its own folder, and every table is derived from that:
the `method:` config union, the recipe table, the data kind `data validate` checks.
These tests fail when a method folder is missing from any of them, and keep the
import rules that let serve, jobs, eval and merge read runs without training code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import yaml

from tuneforge.cli.main import build_parser
from tuneforge.config import RunConfig
from tuneforge.config.methods import METHOD_NAMES
from tuneforge.data.kinds import KINDS
from tuneforge.train.methods.registry import METHODS

SRC = Path(__file__).resolve().parents[2] / "src" / "tuneforge"
METHOD_DIRS = sorted(p.name for p in (SRC / "train" / "methods").iterdir() if p.is_dir())
METHOD_DIRS = [name for name in METHOD_DIRS if name != "__pycache__"]


def test_every_method_folder_is_declared_and_shaped_alike():
    assert sorted(METHODS) == METHOD_DIRS
    for name in METHOD_DIRS:
        files = {p.name for p in (SRC / "train" / "methods" / name).glob("*.py")}
        assert {"__init__.py", "config.py", "loss.py", "recipe.py"} <= files, name


def test_the_config_union_is_the_declared_methods():
    field = RunConfig.model_fields["method"]
    union = get_args(get_args(field.annotation)[0]) or get_args(field.annotation)
    assert set(union) == {method.config for method in METHODS.values()}
    assert tuple(METHODS) == METHOD_NAMES
    for name in METHODS:
        assert RunConfig.model_validate({"method": {"name": name, **_required(name)}}).method.name


def test_every_method_has_a_recipe_and_a_data_kind():
    for name, method in METHODS.items():
        assert method.data in KINDS, name
        recipe = method.load_recipe()
        assert callable(recipe) and recipe.__module__ == f"tuneforge.train.methods.{name}.recipe"


def test_data_validate_offers_every_method():
    data = _subcommand(build_parser(), "data")
    validate = _subcommand(data, "validate")
    (method,) = [a for a in validate._actions if a.dest == "method"]
    assert list(method.choices) == list(METHODS)


def test_shipped_configs_name_declared_methods():
    configs = sorted((SRC.parents[1] / "configs").glob("*.yaml"))
    names = {
        (yaml.safe_load(p.read_text()).get("method") or {}).get("name", "sft") for p in configs
    }
    assert names <= set(METHODS) and len(configs) > 0


def test_a_method_never_imports_another():
    for name in METHOD_DIRS:
        for path in (SRC / "train" / "methods" / name).glob("*.py"):
            for other in set(_imports(path)):
                parts = other.split(".")
                if parts[:3] == ["tuneforge", "train", "methods"] and len(parts) > 3:
                    assert parts[3] in (name, "method", "registry"), f"{path} imports {other}"


@pytest.mark.parametrize("package", ["data", "run_dir.py", "config", "models"])
def test_readers_of_runs_import_no_training_code(package):
    """The data layer, the run-directory contract and model loading never import
    `tuneforge.train` (config may import method declarations: pydantic classes only)."""
    paths = [SRC / package] if package.endswith(".py") else (SRC / package).rglob("*.py")
    for path in paths:
        for module in _imports(path):
            if module.startswith("tuneforge.train"):
                assert package == "config" and module == "tuneforge.train.methods.registry", (
                    f"{path} imports {module}"
                )


def test_configs_and_runs_load_without_torch():
    code = (
        "import sys, tuneforge.config, tuneforge.run_dir; "
        "tuneforge.config.load_config(None, ['method.name=ppo', 'method.reward_function=m:f']); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _required(name: str) -> dict:
    return {"reward_function": "m:f"} if METHODS[name].data == "prompts" else {}


def _subcommand(parser, name: str):
    (action,) = [a for a in parser._actions if getattr(a, "choices", None) and name in a.choices]
    return action.choices[name]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found
