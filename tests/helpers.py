"""Small builders shared by the tests: deterministic data files, configs, run readers."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import yaml

from tuneforge.config import RunConfig, load_config

TINY = "tiny-random-llama"
# fmt: off
WORDS = [
    "the", "cat", "dog", "sat", "on", "a", "mat", "red", "blue", "green", "fast", "slow",
    "tree", "river", "stone", "light", "dark", "runs", "jumps", "sings", "under", "over",
    "near", "far", "small", "large", "bright", "quiet",
]
# fmt: on


def sentence(rng: random.Random, low: int = 2, high: int = 10) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def chat_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n single-turn conversations of varied length, the same for a given seed."""
    rng = random.Random(seed)
    return [
        {
            "messages": [
                {"role": "user", "content": sentence(rng)},
                {"role": "assistant", "content": sentence(rng, 3, 14)},
            ]
        }
        for _ in range(n)
    ]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """One JSON value per line; strings are written verbatim (for malformed lines)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_yaml(path: Path, sections: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(sections, sort_keys=False))
    return path


def tiny_overrides(train_file: Path, out_dir: Path) -> list[str]:
    """A short, deterministic run of the tiny model; later overrides replace these."""
    return [
        f"model.name_or_path={TINY}",
        f"data.train={train_file}",
        "data.max_length=64",
        "train.batch_size=4",
        "train.max_steps=3",
        "train.lr=1e-3",
        "train.warmup_ratio=0",
        "train.log_every=1",
        # Pinned numbers are float32 ones: `auto` picks bf16 on CPUs that compute it natively.
        "train.mixed_precision=no",
        f"output.dir={out_dir}",
    ]


def tiny_config(train_file: Path, out_dir: Path, *overrides: str) -> RunConfig:
    return load_config(None, [*tiny_overrides(train_file, out_dir), *overrides])


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def train_losses(run_dir: Path) -> dict[int, float]:
    return {row["step"]: row["loss"] for row in read_metrics(run_dir) if "loss" in row}


def read_summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "summary.json").read_text())


def interrupt_after_checkpoint(monkeypatch, at_step: int) -> None:
    """Make the run die (as if killed) right after the checkpoint of `at_step` is on disk."""
    from tuneforge.train import loop

    save = loop.save_checkpoint

    def save_then_die(directory, step, *args, **kwargs):
        path = save(directory, step, *args, **kwargs)
        if step == at_step:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
