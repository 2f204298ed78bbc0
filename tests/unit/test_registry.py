"""Model names: aliases build once into the cache, local folders and hub ids resolve,
everything else fails with a message that lists what would work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TINY
from tuneforge.errors import ModelNotFoundError
from tuneforge.models import resolve_model_path
from tuneforge.models.registry import build_once, cache_dir
from tuneforge.run_dir import resolve_adapter_dir


def test_alias_resolves_into_the_test_cache(tuneforge_cache, tokenizer):
    path = Path(resolve_model_path(TINY, progress=lambda m: None))
    assert path == tuneforge_cache / "models" / TINY == cache_dir() / "models" / TINY
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_local_folders_and_hub_ids(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert resolve_model_path("owner/name") == "owner/name"  # loaded (and checked) later


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("./missing-folder", "no such folder, and not a known alias (smollm2-135m-instruct"),
        ("a/b/c", "not a known alias"),
        ("tiny-random-lama", "or a hub id of the form owner/name"),
    ],
)
def test_unknown_names(name, message):
    with pytest.raises(ModelNotFoundError, match=message.replace("(", r"\(")):
        resolve_model_path(name)


def test_folder_without_config_is_not_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a model folder"):
        resolve_model_path(str(tmp_path))


def test_build_once_is_all_or_nothing(tmp_path):
    def broken(staging: Path) -> None:
        (staging / "half-written").write_text("x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        build_once(tmp_path / "model", "config.json", broken)
    assert list(tmp_path.iterdir()) == []  # no target, no staging folder

    built = []
    build = lambda staging: built.append((staging / "config.json").write_text("{}"))  # noqa: E731
    assert build_once(tmp_path / "model", "config.json", build) == tmp_path / "model"
    assert build_once(tmp_path / "model", "config.json", build) == tmp_path / "model"
    assert len(built) == 1 and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_resolve_adapter_dir(tmp_path):
    (tmp_path / "run" / "adapter").mkdir(parents=True)
    assert resolve_adapter_dir(tmp_path / "run") == (tmp_path / "run" / "adapter", "adapter")
    (tmp_path / "full" / "model").mkdir(parents=True)
    assert resolve_adapter_dir(tmp_path / "full") == (tmp_path / "full" / "model", "model")
    (tmp_path / "peft").mkdir()
    (tmp_path / "peft" / "adapter_config.json").write_text("{}")
    assert resolve_adapter_dir(tmp_path / "peft") == (tmp_path / "peft", "adapter")
    with pytest.raises(FileNotFoundError, match="neither a run directory"):
        resolve_adapter_dir(tmp_path)
