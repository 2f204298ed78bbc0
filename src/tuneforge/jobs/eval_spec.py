"""TuneForge's `eval` extension of a fine-tuning job: the regression report when training
ends, as the `eval:` section of the run config (config/report.py).

    "eval": {"tasks": [{"kind": "generate", "file": "file-abc", "scorers": ["exact"]}],
             "general_probe": true, "alpha": 0.05}

A task names an uploaded file (purpose fine-tune) by its id in `file`, never a server
path; every other key is the task's own (config/eval.py TaskConfig). `"eval": {}` asks for
the defaults: a loss task on the job's validation_file and the general-ability probe.
The report lands in the job's result_files as eval_report.json, its verdicts in events.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuneforge.jobs.hyperparameters import JobSpecError

TASK_LISTS = ("tasks", "general_tasks")


def eval_file_ids(requested: Any) -> list[tuple[str, str]]:
    """(param, file id) of every task file the extension names, in order."""
    if requested is None:
        return []
    if not isinstance(requested, Mapping):
        raise JobSpecError(f"expected an object, got {requested!r}", "eval")
    found = []
    for key in TASK_LISTS:
        tasks = requested.get(key) or []
        if not isinstance(tasks, list):
            raise JobSpecError(f"expected a list of tasks, got {tasks!r}", f"eval.{key}")
        for i, task in enumerate(tasks):
            param = f"eval.{key}.{i}"
            if not isinstance(task, Mapping):
                raise JobSpecError(f"expected a task object, got {task!r}", param)
            if "path" in task:
                raise JobSpecError("name an uploaded file by its id in `file`", f"{param}.path")
            file_id = task.get("file")
            if not isinstance(file_id, str) or not file_id:
                raise JobSpecError("every task needs the `file` id of an upload", f"{param}.file")
            found.append((f"{param}.file", file_id))
    return found


def eval_section(
    requested: Any, files: Mapping[str, Path], has_validation: bool
) -> dict[str, Any] | None:
    """The run config's `eval:` section, each task's `file` replaced by its local path."""
    if requested is None:
        return None
    eval_file_ids(requested)  # the shape, checked with each bad field named
    if not requested.get("tasks") and not has_validation:
        raise JobSpecError(
            "the report needs a target task: give eval.tasks or a validation_file", "eval"
        )
    section = dict(requested)
    for key in TASK_LISTS:
        if key in section:
            section[key] = [
                {**{k: v for k, v in task.items() if k != "file"}, "path": str(files[task["file"]])}
                for task in section[key]
            ]
    return section
