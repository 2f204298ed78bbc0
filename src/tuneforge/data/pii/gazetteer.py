"""First names and surnames from the `names-dataset` package, kept as a small cached file.

names-dataset holds 730k first names and 980k surnames from 105 countries, with each
name's popularity rank per country. Loading it takes 12 s and 1.9 GB of memory, too much
for every worker of `data prepare`, so the names ranked in the top `MAX_RANK` of any
country are written once to the cache (2 MB, about 1 s to load) by a child process, whose
memory goes back to the system when it exits.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

MAX_RANK = {"F": 3000, "L": 10000}
"""First names and surnames ranked below these in every country are left out: the long
tail of a 533M-profile dump is mostly typos, nicknames and ordinary words. Surnames are
more varied than first names, so their list goes deeper: on the Faker set, recall of
PERSON alone is 0.70 with surnames to rank 3,000 and 0.86 with 10,000 (precision 0.85
both; 0.96 once STREET_ADDRESS claims the names that streets are named after)."""


def cache_path() -> Path:
    from tuneforge.models.registry import cache_dir

    return (
        cache_dir()
        / "pii"
        / f"names-dataset-{version('names-dataset')}-top{MAX_RANK['F']}-{MAX_RANK['L']}.txt.gz"
    )


def build(path: Path) -> None:
    """Write the gazetteer: a line "F name" or "L name" per name (costs 12 s, 1.9 GB)."""
    from names_dataset import NameDataset

    dataset = NameDataset()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        for tag, table in (("F", dataset.first_names), ("L", dataset.last_names)):
            for name, info in table.items():
                ranks = info.get("rank") or {}
                if ranks and min(ranks.values()) <= MAX_RANK[tag] and " " not in name:
                    out.write(f"{tag} {name}\n")
    os.replace(partial, path)


def ensure_built() -> Path:
    """The gazetteer's path, built first if missing: call it before starting workers, so
    that one process pays for the build."""
    path = cache_path()
    if path.exists():
        return path
    command = [
        sys.executable,
        "-c",
        f"from {__name__} import build, Path; build(Path({str(path)!r}))",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no error output"])[-1]
        raise RuntimeError(
            f"could not build the person-name list {path} from names-dataset ({last_line}); "
            "install it with `pip install names-dataset`, or leave PERSON out of pii_types"
        )
    return path


class Gazetteer:
    """Membership of title-cased first names and surnames, kept as the sorted 64-bit hashes
    of the lines "F name" and "L name": 6 MB per process where sets of the 716k strings
    take 110 MB, which every worker of `data prepare` would hold. A false match needs a
    64-bit hash collision."""

    def __init__(self, entries: Iterable[str]):
        self._hashes = np.unique(np.fromiter(map(hash, entries), dtype=np.int64))
        # A search costs ~1.5 us; prose repeats its capitalised words, so remember them.
        self._has = lru_cache(maxsize=1 << 16)(self._search)

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        """Read a file written by `build`, line by line (no list of 716k strings)."""
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            return cls(line.rstrip("\n") for line in lines)

    def _search(self, entry: str) -> bool:
        key = hash(entry)
        i = int(np.searchsorted(self._hashes, key))
        return i < len(self._hashes) and int(self._hashes[i]) == key

    def first_name(self, word: str) -> bool:
        return self._has("F " + word)

    def surname(self, word: str) -> bool:
        return self._has("L " + word)


@lru_cache(maxsize=1)
def names() -> Gazetteer:
    """The gazetteer, loaded once per process (about 1 s)."""
    return Gazetteer.load(ensure_built())
