"""POST/GET /v1/fine_tuning/jobs, GET .../{id}, POST .../{id}/cancel|pause|resume,
GET .../{id}/events and GET .../{id}/checkpoints."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tuneforge.jobs.deps import GradersDep, RegistryDep, StoreDep, WakeDep
from tuneforge.jobs.fine_tuning import service
from tuneforge.jobs.fine_tuning.schemas import (
    CheckpointList,
    EventList,
    FineTuningJob,
    JobCreateRequest,
    JobList,
)
from tuneforge.serve.deps import EngineDep, OrgDep

router = APIRouter()
JOBS = "/v1/fine_tuning/jobs"
METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")


@router.post(JOBS, response_model=FineTuningJob)
def create_job(
    body: JobCreateRequest,
    org: OrgDep,
    store: StoreDep,
    engine: EngineDep,
    registry: RegistryDep,
    graders: GradersDep,
    wake: WakeDep,
) -> FineTuningJob:
    return service.create_job(store, engine, registry, graders, org, body, wake)


@router.get(JOBS, response_model=JobList)
def list_jobs(
    request: Request,
    org: OrgDep,
    store: StoreDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    # OpenAI filters on `metadata[key]=value` query parameters, any number of them.
    metadata = {
        match.group(1): value
        for key, value in request.query_params.items()
        if (match := METADATA_QUERY.match(key))
    }
    return service.list_jobs(store, org, after, limit, metadata)


@router.get(JOBS + "/{job_id}", response_model=FineTuningJob)
def retrieve_job(job_id: str, org: OrgDep, store: StoreDep) -> FineTuningJob:
    return service.retrieve(store, org, job_id)


@router.post(JOBS + "/{job_id}/cancel", response_model=FineTuningJob)
def cancel_job(job_id: str, org: OrgDep, store: StoreDep, wake: WakeDep) -> FineTuningJob:
    return service.cancel(store, org, job_id, wake)


@router.post(JOBS + "/{job_id}/pause", response_model=FineTuningJob)
def pause_job(job_id: str, org: OrgDep, store: StoreDep, wake: WakeDep) -> FineTuningJob:
    return service.pause(store, org, job_id, wake)


@router.post(JOBS + "/{job_id}/resume", response_model=FineTuningJob)
def resume_job(job_id: str, org: OrgDep, store: StoreDep, wake: WakeDep) -> FineTuningJob:
    return service.resume(store, org, job_id, wake)


@router.get(JOBS + "/{job_id}/events", response_model=EventList)
def list_events(
    job_id: str,
    org: OrgDep,
    store: StoreDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> EventList:
    return service.list_events(store, org, job_id, after, limit)


@router.get(JOBS + "/{job_id}/checkpoints", response_model=CheckpointList)
def list_checkpoints(
    job_id: str,
    org: OrgDep,
    store: StoreDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> CheckpointList:
    return service.list_checkpoints(store, org, job_id, after, limit)
