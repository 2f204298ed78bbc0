"""The models of a merge, each read one tensor at a time from its safetensors files.

A source is named as everywhere else in TuneForge: an alias, an HF model folder, a run
directory (its model/ or adapter/) or an adapter folder. An adapter enters a model merge as
its base with the adapter merged in (merge/lora.py, into a scratch folder), so every method
sees full weights; that costs one model's memory once per adapter, while the merge itself
holds one tensor per source at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneforge.errors import TuneForgeError
from tuneforge.run_dir import RunDir, base_model_of, resolve_adapter_dir

INDEX = "model.safetensors.index.json"


@dataclass
class Source:
    given: str
    """As the config names it."""
    folder: Path
    """An HF model folder with safetensors weights (an adapter's merged into its base)."""
    adapter: Path | None = None
    """The adapter folder, when the source is an adapter."""
    trained_from: str | None = None
    """The base a run or adapter started from."""
    _files: dict[str, Path] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> dict[str, Path]:
        """tensor name -> the safetensors file holding it."""
        if not self._files:
            self._files = tensor_files(self.folder)
        return self._files

    def config(self) -> dict[str, Any]:
        return json.loads((self.folder / "config.json").read_text())

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor's shape, read from the file headers (no tensor is loaded)."""
        from safetensors import safe_open

        shapes: dict[str, tuple[int, ...]] = {}
        for file in sorted(set(self.files.values())):
            with safe_open(file, framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (safe_open is no Mapping)
                    shapes[name] = tuple(handle.get_slice(name).get_shape())
        return shapes

    def digest(self) -> str:
        """sha256 over the weights as given: the adapter's files for an adapter (what
        names it), the model's safetensors otherwise."""
        folder = self.adapter or self.folder
        hasher = hashlib.sha256()
        for file in sorted(folder.glob("*.safetensors")):
            hasher.update(file.name.encode())
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    hasher.update(block)
        return hasher.hexdigest()


def tensor_files(folder: Path) -> dict[str, Path]:
    index = folder / INDEX
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {name: folder / file for name, file in weight_map.items()}
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise TuneForgeError(f"{folder}: no safetensors weights to merge")
    from safetensors import safe_open

    found: dict[str, Path] = {}
    for file in files:
        with safe_open(file, framework="pt") as handle:
            found.update(dict.fromkeys(handle.keys(), file))  # noqa: SIM118
    return found


def resolve_source(given: str, scratch: Path, log) -> Source:
    """The Source a config's `model` names; adapters are merged into `scratch`."""
    from tuneforge.models.registry import ALIASES, ensure_cached

    if given in ALIASES:
        return Source(given, ensure_cached(given, log))
    path = Path(given)
    if not path.exists():
        raise TuneForgeError(
            f"{given}: no such folder, and not a known alias ({', '.join(ALIASES)})"
        )
    folder, kind = resolve_adapter_dir(path)
    trained_from = base_model_of(path) if RunDir(path).is_run or kind == "adapter" else None
    if kind == "model":
        return Source(given, folder, trained_from=trained_from)
    from tuneforge.merge.lora import merge_adapter

    merged = merge_adapter(path, scratch / f"source-{len(list(scratch.glob('source-*')))}", log=log)
    return Source(given, merged, adapter=folder, trained_from=trained_from)


class TensorReader:
    """Open handles on every source's files for the merge's duration; `get(source, name)`
    loads one tensor."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._handles: dict[Path, Any] = {}

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def get(self, source: Source, name: str):
        from safetensors import safe_open

        file = source.files[name]
        if file not in self._handles:
            self._handles[file] = self._stack.enter_context(safe_open(file, framework="pt"))
        return self._handles[file].get_tensor(name)


def names_in_order(source: Source) -> Iterator[str]:
    """Tensor names in file order, then name order: the output's layout."""
    by_file: dict[Path, list[str]] = {}
    for name, file in source.files.items():
        by_file.setdefault(file, []).append(name)
    for file in sorted(by_file):
        yield from sorted(by_file[file])
