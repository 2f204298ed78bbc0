"""What jobs routes get from the app: the store, the blobs, the settings, the model
registry, the grader settings and a way to wake the worker.

`tuneforge.jobs.app.jobs_api(...)` builds them as `create_app(..., state=...)`, which
puts them on `app.state`; routes declare `store: StoreDep` and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from tuneforge.graders import GraderSettings
from tuneforge.jobs.blobs import FileBlobs
from tuneforge.jobs.settings import JobsSettings
from tuneforge.jobs.store import JobStore
from tuneforge.serve.registry import Registry


def get_job_store(request: Request) -> JobStore:
    store: JobStore = request.app.state.job_store
    return store


def get_blobs(request: Request) -> FileBlobs:
    blobs: FileBlobs = request.app.state.blobs
    return blobs


def get_jobs_settings(request: Request) -> JobsSettings:
    settings: JobsSettings = request.app.state.jobs_settings
    return settings


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def get_graders(request: Request) -> GraderSettings:
    graders = getattr(request.app.state, "graders", None)
    return graders if isinstance(graders, GraderSettings) else GraderSettings()


def get_wake(request: Request) -> Callable[[], None]:
    """Tells the worker that a job changed (created, cancelled, ...), so it does not wait
    for its next poll; a no-op where no worker runs in this process."""
    worker = getattr(request.app.state, "jobs_worker", None)
    wake: Callable[[], None] = worker.wake if worker is not None else lambda: None
    return wake


StoreDep = Annotated[JobStore, Depends(get_job_store)]
BlobsDep = Annotated[FileBlobs, Depends(get_blobs)]
JobsSettingsDep = Annotated[JobsSettings, Depends(get_jobs_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
GradersDep = Annotated[GraderSettings, Depends(get_graders)]
WakeDep = Annotated[Callable[[], None], Depends(get_wake)]
