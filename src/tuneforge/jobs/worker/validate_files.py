"""The `validating_files` stage: a job's files checked as training data for its method,
its hyperparameters resolved for their size, and its training config written; then the
job is `queued`, or `failed` with the first problem (file, line, field) in its error and
every problem in an event. The server never trains on a file that did not pass.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tuneforge.jobs.blobs import FileBlobs
from tuneforge.jobs.eval_spec import eval_file_ids
from tuneforge.jobs.hyperparameters import COMMON_KEYS, MAX_BATCH_SIZE, JobSpecError
from tuneforge.jobs.store import JobRecord, JobStore
from tuneforge.jobs.train_spec import (
    build_train_config,
    fine_tuned_model_id,
    job_hyperparameters,
    total_steps,
)
from tuneforge.jobs.validation import FileCheck, validate_training_file

JOB_CONFIG = "job.yaml"
INPUTS = "inputs"
MAX_LISTED_PROBLEMS = 50  # in the failure event; the counts cover every one
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".jsonl.gz", ".json.gz", ".jsonl.zst")


def job_request(job: JobRecord) -> dict[str, Any]:
    """The create request a stored job came from, as train_spec reads it."""
    return {
        "method": job.method, "hyperparameters": job.hyperparameters, "seed": job.seed,
        "suffix": job.suffix, "adapter": job.extra.get("adapter"), "eval": job.extra.get("eval"),
    }  # fmt: skip


def validate_job(
    job: JobRecord,
    store: JobStore,
    blobs: FileBlobs,
    runs_dir: Path,
    grader_settings: Mapping[str, Any],
) -> JobRecord | None:
    """Validate the job's files and queue it (or fail it); the job as it now stands, or
    None when it left validating_files meanwhile (cancelled)."""
    run_dir = Path(runs_dir) / job.id
    base = job.extra["base"]
    try:
        train_path = _input(store, blobs, job, "training_file", run_dir)
        assert train_path is not None  # every job has a training file
        valid_path = _input(store, blobs, job, "validation_file", run_dir)
        request = job_request(job)
        eval_files = _eval_inputs(store, blobs, job, request, run_dir)
        # max_length does not depend on the file's size: the bound its checks use.
        max_length = build_train_config(
            request, base, train_path, valid_path, run_dir, MAX_BATCH_SIZE, eval_files=eval_files
        )["data"]["max_length"]
        tokenizer = _tokenizer(base)
        method_type = job.method["type"]
        checks = [validate_training_file(train_path, _name(store, job, "training_file"),
                                         method_type, tokenizer, max_length)]  # fmt: skip
        if valid_path is not None:
            name = _name(store, job, "validation_file")
            checks.append(
                validate_training_file(valid_path, name, method_type, tokenizer, max_length, 1)
            )
        failed = next((c for c in checks if not c.ok), None)
        if failed is not None:
            param = "training_file" if failed is checks[0] else "validation_file"
            return _fail_files(store, job, failed, param)
        n = checks[0].n_examples
        config = build_train_config(
            request, base, train_path, valid_path, run_dir, n, eval_files=eval_files
        )
        _, hyperparameters = job_hyperparameters(request, n)
    except JobSpecError as exc:
        files = ("training_file", "validation_file")
        code = f"invalid_{exc.param}" if exc.param in files else "invalid_hyperparameters"
        return _fail(store, job, code, exc.message, exc.param)
    if config["method"]["name"] == "grpo":
        config["method"]["reward_kwargs"]["grader_settings"] = dict(grader_settings)
    config_path = run_dir / JOB_CONFIG
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    for check in checks:
        store.add_event(job.id, check.summary())
    method = {**job.method}
    method[method["type"]] = {**method.get(method["type"], {}), "hyperparameters": hyperparameters}
    queued = store.transition(
        job.id, ("validating_files",), "queued",
        hyperparameters={k: hyperparameters[k] for k in COMMON_KEYS},
        method=method, run_dir=str(run_dir), worker=None,
        extra={
            **job.extra, "total_steps": total_steps(config, n), "n_examples": n,
            "model_id": fine_tuned_model_id(job.model, job.org, job.suffix, job.id),
        },
    )  # fmt: skip
    if queued is not None:
        store.add_event(job.id, "Files validated, moving job to queued state")
    return queued


def _eval_inputs(
    store: JobStore, blobs: FileBlobs, job: JobRecord, request: dict[str, Any], run_dir: Path
) -> dict[str, Path]:
    """The report's task files (the `eval` extension), linked as the training files are."""
    linked: dict[str, Path] = {}
    for i, (param, file_id) in enumerate(eval_file_ids(request.get("eval"))):
        if file_id not in linked:
            linked[file_id] = _link(store, blobs, job, file_id, param, run_dir, f"eval-{i}")
    return linked


def _input(
    store: JobStore, blobs: FileBlobs, job: JobRecord, param: str, run_dir: Path
) -> Path | None:
    file_id = getattr(job, param)
    if file_id is None:
        return None
    return _link(store, blobs, job, file_id, param, run_dir, param.removesuffix("_file"))


def _link(
    store: JobStore, blobs: FileBlobs, job: JobRecord, file_id: str, param: str, run_dir: Path,
    stem: str,
) -> Path:  # fmt: skip
    """The uploaded file, linked into the run's inputs/ under a name whose suffix says its
    format: the link keeps the content if the file is deleted while the job runs."""
    record = store.get_file(job.org, file_id)
    if record is None:
        raise JobSpecError(f"the file {file_id} was deleted before the job started", param)
    suffix = next((s for s in DATA_SUFFIXES if record.filename.endswith(s)), ".jsonl")
    target = run_dir / INPUTS / f"{stem}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(blobs.path(record.blob), target)
    except OSError:  # another file system: a copy does the same
        shutil.copyfile(blobs.path(record.blob), target)
    return target


def _name(store: JobStore, job: JobRecord, param: str) -> str:
    record = store.get_file(job.org, getattr(job, param))
    return record.filename if record is not None else getattr(job, param)


def _tokenizer(base: str) -> Any:
    from tuneforge.models import load_tokenizer

    return load_tokenizer(base, progress=lambda message: None)


def _fail_files(store: JobStore, job: JobRecord, check: FileCheck, param: str) -> JobRecord | None:
    errors = check.errors
    listed = [_problem_line(check, p) for p in errors[:MAX_LISTED_PROBLEMS]]
    more = len(errors) - len(listed)
    store.add_event(
        job.id,
        f"{check.summary()}\n" + "\n".join(listed) + (f"\n... and {more} more" if more else ""),
        level="error",
    )
    counts = ", ".join(f"{name}: {count}" for name, count in check.counts.items() if count)
    message = f"{check.first_problem()}" + (f" ({counts})" if counts else "")
    return _fail(store, job, f"invalid_{param}", message, param)


def _problem_line(check: FileCheck, problem: Any) -> str:
    where = f"line {problem.line}" if problem.line is not None else check.filename
    field = f" field {problem.field}" if problem.field else ""
    return f"{where}{field}: {problem.message}"


def _fail(
    store: JobStore, job: JobRecord, code: str, message: str, param: str | None
) -> JobRecord | None:
    failed = store.transition(
        job.id, ("validating_files",), "failed", worker=None, finished_at=int(time.time()),
        error={"code": code, "message": message, "param": param},
    )  # fmt: skip
    if failed is not None:
        store.add_event(job.id, f"Job failed: {message}", level="error")
    return failed
