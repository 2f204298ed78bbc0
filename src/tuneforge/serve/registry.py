"""Which models a server may serve: its bases, and adapters from its own registry only.

Adapters come from `--adapter NAME=PATH` at start and from `<data-dir>/adapters/<id>.json`
files (written by `POST /v1/adapters` and by the jobs API), re-read on every lookup so a
new adapter needs no restart. A model id is looked up, never opened as a path: ids with
separators or `..` are unknown models.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from tuneforge.run_dir import base_model_of, resolve_adapter_dir
from tuneforge.serve.engine.base import EngineError, ModelNotFound

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


@dataclass(frozen=True)
class Entry:
    id: str
    kind: Literal["base", "adapter", "model"]
    folder: str  # what from_pretrained loads: an alias/folder (base), adapter or model folder
    root: str  # the base id it runs on (itself for a base or a full model)
    parent: str | None
    created: int
    owned_by: str = "tuneforge"


def valid_id(model: str) -> bool:
    return bool(SAFE_ID.match(model)) and ".." not in model


class Registry:
    def __init__(self, data_dir: Path, bases: list[str], adapters: dict[str, str]):
        self.folder = Path(data_dir) / "adapters"
        self.bases = {_base_id(b): b for b in bases}
        self._started = int(time.time())
        # (file, mtime) -> entry: a lookup per request must not re-read every run's config
        self._seen: dict[tuple[str, float], Entry | None] = {}
        self._static = {
            name: self._entry(name, path, self._started) for name, path in adapters.items()
        }

    def entries(self) -> list[Entry]:
        found = [Entry(i, "base", b, i, None, self._started) for i, b in self.bases.items()]
        found += self._static.values()
        for file in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else ():
            entry = self._read(file)
            if entry is not None and entry.id not in self._static:
                found.append(entry)
        return found

    def get(self, model: str) -> Entry:
        if not valid_id(model):
            raise ModelNotFound(model)
        for entry in self.entries():
            if entry.id == model:
                return entry
        raise ModelNotFound(model)

    def add(self, name: str, path: str) -> Entry:
        """Record an adapter in the data directory (the engine validates it by loading)."""
        if not valid_id(name):
            raise EngineError(
                f"adapter name {name!r}: use letters, digits and _ . : @ -", param="lora_name"
            )
        if name in self.bases or name in self._static:
            raise EngineError(f"model {name!r} already exists", param="lora_name")
        entry = self._entry(name, path, int(time.time()))
        write_entry(self.folder, name, path, entry.created)
        return entry

    def remove(self, name: str) -> None:
        file = self.folder / f"{name}.json"
        if not valid_id(name) or not file.is_file():
            raise ModelNotFound(name)
        file.unlink()

    def _read(self, file: Path) -> Entry | None:
        try:
            key = (str(file), file.stat().st_mtime)
        except OSError:
            return None
        if key not in self._seen:
            self._seen[key] = self._parse(file)
        return self._seen[key]

    def _parse(self, file: Path) -> Entry | None:
        try:
            record = json.loads(file.read_text())
            entry = self._entry(record["id"], record["path"], int(record.get("created", 0)))
            return replace(entry, owned_by=record.get("owner", entry.owned_by))
        except (OSError, ValueError, KeyError, EngineError):
            return None  # half-written or stale entries are not listed

    def _entry(self, name: str, path: str, created: int) -> Entry:
        try:
            folder, kind = resolve_adapter_dir(path)
            base = base_model_of(path)
        except (OSError, ValueError) as exc:
            raise EngineError(f"adapter {name!r}: {exc}", param="lora_path") from None
        if kind == "model":
            return Entry(name, "model", str(folder), name, base, created)
        root = self._match_base(base)
        if root is None:
            raise EngineError(
                f"adapter {name!r} was trained on {base!r}, which this server does not serve "
                f"(bases: {', '.join(self.bases)}); start it with --model {base}",
                param="lora_path",
            )
        return Entry(name, "adapter", str(folder), root, root, created)

    def _match_base(self, base: str | None) -> str | None:
        if base is None:
            return next(iter(self.bases), None)
        wanted = _canonical(base)
        return next((i for i, b in self.bases.items() if _canonical(b) == wanted), None)


def write_entry(
    folder: Path, name: str, path: str | Path, created: int, owner: str | None = None
) -> Path:
    """One registry file, written whole (a reader never sees half of it); its path.
    `owner`: the organisation a fine-tuned model belongs to (the jobs API); none for
    adapters every organisation may use."""
    record = {"id": name, "path": str(Path(path).resolve()), "created": created}
    if owner is not None:
        record["owner"] = owner
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.json.partial"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, folder / f"{name}.json")
    return folder / f"{name}.json"


def _base_id(name: str) -> str:
    path = Path(name)
    return path.name if path.exists() else name


def _canonical(name: str) -> str:
    from tuneforge.models.registry import ALIASES, cache_dir

    if name in ALIASES:
        return str((cache_dir() / "models" / name).resolve())
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name
