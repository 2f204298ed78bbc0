"""The fine-tuning jobs API's logic: create, list, read, cancel, pause and resume jobs;
list their events and checkpoints.

A job is checked as far as it can be without reading its files when it is created (the
model, the files, every field of the request: a 400 naming it); the files themselves are
validated by the worker, which moves the job on (jobs/worker/). Another organisation's
job is a 404, exactly like a missing one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from tuneforge.graders import GraderSettings, GraderSpecError, GraderUnavailable, parse_grader
from tuneforge.graders import check_available as check_grader_available
from tuneforge.jobs.eval_spec import eval_file_ids
from tuneforge.jobs.fine_tuning.schemas import (
    CheckpointList,
    EventList,
    FineTuningJob,
    JobCheckpoint,
    JobCreateRequest,
    JobError,
    JobEvent,
    JobList,
)
from tuneforge.jobs.hyperparameters import COMMON_KEYS, KEYS_OF_METHOD, JobSpecError
from tuneforge.jobs.store import CheckpointRecord, EventRecord, JobRecord, JobStore
from tuneforge.jobs.train_spec import check_job_request
from tuneforge.serve.engine.base import Engine, ModelNotFound
from tuneforge.serve.errors import APIError
from tuneforge.serve.models.service import resolve
from tuneforge.serve.registry import Registry

FINAL_STATUSES = ("succeeded", "failed", "cancelled")
CANCELLABLE = ("validating_files", "queued", "running", "paused")


def create_job(
    store: JobStore,
    engine: Engine,
    registry: Registry,
    graders: GraderSettings,
    org: str,
    request: JobCreateRequest,
    wake: Callable[[], None],
) -> FineTuningJob:
    base = _trainable_base(engine, registry, request.model, org)
    for param in ("training_file", "validation_file"):
        file_id = getattr(request, param)
        if file_id is not None:
            _check_file(store, org, file_id, param)
    body = request.model_dump(exclude_none=True)
    try:
        for param, file_id in eval_file_ids(request.eval):
            _check_file(store, org, file_id, param)
        check_job_request(body, base)
        _check_grader(body, graders)
    except JobSpecError as exc:
        raise APIError(400, exc.message, param=exc.param) from None
    method_type = (request.method or {}).get("type", "supervised")
    method = requested_method(method_type, body)
    job = store.create_job(
        org,
        model=request.model,
        training_file=request.training_file,
        validation_file=request.validation_file,
        suffix=request.suffix,
        seed=request.seed if request.seed is not None else secrets.randbelow(2**31),
        metadata=request.metadata,
        method=method,
        hyperparameters=_with_auto(method[method_type]["hyperparameters"], COMMON_KEYS),
        extra={
            "base": base,
            "adapter": request.adapter,
            "integrations": request.integrations,
            "eval": request.eval,
        },  # fmt: skip
    )
    store.add_event(job.id, f"Created fine-tuning job: {job.id}")
    if request.integrations:
        kinds = sorted({str(i.get("type")) for i in request.integrations})
        store.add_event(
            job.id, f"Integrations {kinds} are not supported by this server and are ignored",
            level="warn",
        )  # fmt: skip
    store.add_event(job.id, f"Validating training file: {request.training_file}")
    if request.validation_file:
        store.add_event(job.id, f"Validating validation file: {request.validation_file}")
    wake()
    return to_schema(job)


def list_jobs(
    store: JobStore, org: str, after: str | None, limit: int, metadata: Mapping[str, str]
) -> JobList:
    jobs, has_more = store.list_jobs(org, after=after, limit=limit, metadata=metadata)
    return JobList(data=[to_schema(job) for job in jobs], has_more=has_more)


def retrieve(store: JobStore, org: str, job_id: str) -> FineTuningJob:
    return to_schema(find(store, org, job_id))


def cancel(store: JobStore, org: str, job_id: str, wake: Callable[[], None]) -> FineTuningJob:
    """Final at once: a running job's worker sees the status and stops its process."""
    job = find(store, org, job_id)
    moved = store.transition(job.id, CANCELLABLE, "cancelled", finished_at=int(time.time()))
    if moved is None:
        raise _state_error(find(store, org, job_id), "cancel")
    store.add_event(job.id, "Job cancelled")
    wake()
    return to_schema(moved)


def pause(store: JobStore, org: str, job_id: str, wake: Callable[[], None]) -> FineTuningJob:
    """A running job writes a checkpoint and stops; it is `paused` once that is on disk."""
    job = find(store, org, job_id)
    asked = store.transition(job.id, ("running",), "running", requested="pause")
    if asked is None:
        raise _state_error(find(store, org, job_id), "pause")
    store.add_event(job.id, "Pause requested: the job stops at its next checkpoint")
    wake()
    return to_schema(asked)


def resume(store: JobStore, org: str, job_id: str, wake: Callable[[], None]) -> FineTuningJob:
    job = find(store, org, job_id)
    queued = store.transition(job.id, ("paused",), "queued", requested=None)
    if queued is None:
        raise _state_error(find(store, org, job_id), "resume")
    store.add_event(job.id, "Job resumed: queued to continue from its checkpoint")
    wake()
    return to_schema(queued)


def list_events(store: JobStore, org: str, job_id: str, after: str | None, limit: int) -> EventList:
    find(store, org, job_id)
    events, has_more = store.list_events(org, job_id, after=after, limit=limit)
    return EventList(data=[event_schema(e) for e in events], has_more=has_more)


def list_checkpoints(
    store: JobStore, org: str, job_id: str, after: str | None, limit: int
) -> CheckpointList:
    find(store, org, job_id)
    found, has_more = store.list_checkpoints(org, job_id, after=after, limit=limit)
    data = [checkpoint_schema(c) for c in found]
    return CheckpointList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )


def find(store: JobStore, org: str, job_id: str) -> JobRecord:
    job = store.get_job(org, job_id)
    if job is None:
        raise APIError(
            404, f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id",
            code="fine_tuning_job_not_found",
        )  # fmt: skip
    return job


def requested_method(method_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's method object as the job shows it before validation: every hyperparameter
    of the method, "auto" where the request left it out."""
    settings = dict((body.get("method") or {}).get(method_type) or {})
    given = {**(body.get("hyperparameters") or {}), **(settings.get("hyperparameters") or {})}
    settings["hyperparameters"] = _with_auto(given, KEYS_OF_METHOD[method_type])
    return {"type": method_type, method_type: settings}


def to_schema(job: JobRecord) -> FineTuningJob:
    error = JobError(**job.error) if job.error else None
    return FineTuningJob(
        id=job.id, created_at=job.created_at, error=error,
        fine_tuned_model=job.fine_tuned_model, finished_at=job.finished_at,
        hyperparameters=job.hyperparameters, model=job.model, organization_id=job.org,
        result_files=job.result_files, seed=job.seed, status=job.status,
        trained_tokens=job.trained_tokens, training_file=job.training_file,
        validation_file=job.validation_file, estimated_finish=job.estimated_finish,
        integrations=job.extra.get("integrations"), metadata=job.metadata,
        method=job.method, user_provided_suffix=job.suffix,
    )  # fmt: skip


def event_schema(event: EventRecord) -> JobEvent:
    return JobEvent(
        id=event.id, created_at=event.created_at, level=event.level, message=event.message,
        data=event.data, type=event.type,
    )  # fmt: skip


def checkpoint_schema(checkpoint: CheckpointRecord) -> JobCheckpoint:
    return JobCheckpoint(
        id=checkpoint.id, created_at=checkpoint.created_at,
        fine_tuned_model_checkpoint=checkpoint.fine_tuned_model_checkpoint,
        fine_tuning_job_id=checkpoint.job_id, metrics=checkpoint.metrics,
        step_number=checkpoint.step_number,
    )  # fmt: skip


def _trainable_base(engine: Engine, registry: Registry, model: str, org: str) -> str:
    """What `tuneforge train` loads for the model a job names: a base this server serves
    (an alias or folder), or a full fine-tuned model's folder."""
    card = resolve(engine, model, org)
    if card.kind == "adapter":
        raise APIError(
            400,
            f"'{model}' is an adapter of '{card.root}'; this server fine-tunes base and full "
            f"models only: create the job on '{card.root}'",
            param="model",
            code="model_not_available",
        )
    try:
        return registry.get(card.id).folder
    except ModelNotFound:
        raise ModelNotFound(model) from None


def _check_file(store: JobStore, org: str, file_id: str, param: str) -> None:
    record = store.get_file(org, file_id)
    if record is None:
        raise APIError(400, f"invalid {param}: no such file {file_id}", param=param)
    if record.purpose != "fine-tune":
        raise APIError(
            400,
            f"{param} {file_id} was uploaded with purpose '{record.purpose}', not 'fine-tune'",
            param=param,
        )


def _check_grader(body: Mapping[str, Any], graders: GraderSettings) -> None:
    """A reinforcement job's grader is checked, and must be one this server can run."""
    settings = ((body.get("method") or {}).get("reinforcement") or {}) if body else {}
    grader = settings.get("grader") if isinstance(settings, Mapping) else None
    if not isinstance(grader, Mapping):
        return  # check_job_request names a missing grader
    param = "method.reinforcement.grader"
    try:
        check_grader_available(parse_grader(dict(grader)), graders)
    except (GraderSpecError, GraderUnavailable) as exc:
        raise JobSpecError(exc.message, f"{param}.{exc.param}" if exc.param else param) from None


def _with_auto(given: Mapping[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    given = given or {}
    return {key: given.get(key, "auto") if given.get(key) is not None else "auto" for key in keys}


def _state_error(job: JobRecord, action: str) -> APIError:
    return APIError(
        400,
        f"Cannot {action} fine-tuning job {job.id}: its status is '{job.status}'",
        param="fine_tuning_job_id",
        code="invalid_job_status",
    )
