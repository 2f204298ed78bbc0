"""`tuneforge eval`: every model of a ModelSet on every task, one load of the base.

Writes, into the output folder, whole or not at all:
- results.json = {"models": {ID: {"tasks": {TASK: {"metrics", "ci", "n", "dropped"}}}},
  "manifest": {...}}, where ID is the base's name or the adapter's run directory as
  given, and the manifest records what makes the numbers reproducible: the weights' and
  task files' hashes, the chat template's, the batch size, the seed, library versions;
- samples/<model>/<task>.jsonl: per-example details (predictions, per-example scores).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
from collections.abc import Callable
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

from tuneforge.config.eval import EvalConfig, TaskConfig
from tuneforge.eval.models import ModelSet
from tuneforge.eval.task import TaskScores
from tuneforge.log import info
from tuneforge.run_dir import resolve_adapter_dir

# Each task kind's function (module:name, imported when used) and the settings it takes.
TASKS: dict[str, tuple[str, Callable[[TaskConfig, EvalConfig], dict[str, Any]]]] = {
    "loss": (
        "tuneforge.eval.tasks.loss:run_loss",
        lambda t, c: {"max_length": t.max_length, "batch_size": c.batch_size},
    ),
    "generate": (
        "tuneforge.eval.tasks.generate:run_generate",
        lambda t, c: {
            "scorers": t.scorers, "scorer_options": t.scorer_options,
            "max_new_tokens": t.max_new_tokens, "stop": t.stop, "batch_size": c.batch_size,
        },
    ),
    "choice": (
        "tuneforge.eval.tasks.choice:run_choice",
        lambda t, c: {
            "batch_size": c.batch_size, "few_shot": t.few_shot,
            "chat_template": t.chat_template, "seed": c.seed,
        },
    ),
    "preference": (
        "tuneforge.eval.tasks.preference:run_preference",
        lambda t, c: {
            "batch_size": c.batch_size, "max_length": t.max_length, "beta": t.beta,
            "judge": t.judge, "max_new_tokens": t.max_new_tokens,
        },
    ),
}  # fmt: skip
LIBRARIES = ("tuneforge", "torch", "transformers", "peft", "numpy")


def evaluate(cfg: EvalConfig, log=info) -> dict[str, Any]:
    """Run every task on every model; write and return results.json's content."""
    models = ModelSet(cfg.model, list(cfg.adapters), log)
    output = Path(cfg.output)
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    results: dict[str, Any] = {"models": {}, "manifest": {}}
    templates: dict[str, str] = {}
    for model_id in models.ids:
        tasks: dict[str, Any] = {}
        with models.use(model_id) as (model, tokenizer):
            templates[model_id] = digest_text(tokenizer.chat_template or "")
            for task in cfg.tasks:
                log(f"eval: {model_id} on {task.label} ({task.kind})")
                scores = run_task(task, cfg, model, tokenizer)
                tasks[task.label] = scores.summary(cfg.seed)
                write_samples(partial, model_id, task.label, scores)
        results["models"][model_id] = {"tasks": tasks}
    results["manifest"] = manifest(cfg, models, templates)
    (partial / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(output, ignore_errors=True)
    os.replace(partial, output)
    return results


def run_task(task: TaskConfig, cfg: EvalConfig, model, tokenizer) -> TaskScores:
    target, settings = TASKS[task.kind]
    module, name = target.split(":")
    function = getattr(import_module(module), name)
    scores: TaskScores = function(model, tokenizer, task.path, **settings(task, cfg))
    return scores


def manifest(cfg: EvalConfig, models: ModelSet, templates: dict[str, str]) -> dict[str, Any]:
    return {
        "models": {model_id: _weights_digest(model_id) for model_id in models.ids},
        "chat_templates": templates,
        "tasks": {
            t.label: {"kind": t.kind, "path": str(t.path), "sha256": _digest_file(t.path)}
            | t.model_dump(mode="json", exclude={"kind", "path", "name"})
            for t in cfg.tasks
        },
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "libraries": {name: _version(name) for name in LIBRARIES},
        "python": platform.python_version(),
    }


def write_samples(folder: Path, model_id: str, task: str, scores: TaskScores) -> None:
    if not scores.examples:
        return
    target = folder / "samples" / _safe(model_id) / f"{_safe(task)}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(e) + "\n" for e in scores.examples))


def _weights_digest(model_id: str) -> dict[str, str]:
    """sha256 over the weight files of a local model or adapter folder, or the name of a
    model that is not a local folder (an alias or hub id, pinned by its version)."""
    path = Path(model_id)
    if path.exists():
        folder, _ = resolve_adapter_dir(path)
    else:
        from tuneforge.models.registry import ALIASES, ensure_cached

        if model_id not in ALIASES:
            return {"name": model_id}
        folder = Path(ensure_cached(model_id))
    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.safetensors")):
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return {"folder": str(folder), "sha256": digest.hexdigest()}


def _digest_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _safe(name: str) -> str:
    """A model id or task name as one path component."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"
