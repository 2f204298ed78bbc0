"""The jobs API as `tuneforge serve` mounts it: routes, what they need on `app.state`,
and the worker that starts and stops with the app.

    jobs = JobsAPI.open(engine, registry, settings, graders)
    app = create_app(engine, keys, serve_settings, **jobs.app_arguments())
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

from tuneforge.graders import GraderSettings
from tuneforge.jobs.blobs import FileBlobs
from tuneforge.jobs.files.router import UPLOAD_PATH
from tuneforge.jobs.files.router import router as files_router
from tuneforge.jobs.fine_tuning.router import router as fine_tuning_router
from tuneforge.jobs.graders_api.router import router as graders_router
from tuneforge.jobs.settings import JobsSettings
from tuneforge.jobs.store import JobStore, open_store
from tuneforge.jobs.worker import JobWorker
from tuneforge.jobs.worker.process import train_command
from tuneforge.serve.engine.base import Engine
from tuneforge.serve.registry import Registry

ROUTERS = (files_router, fine_tuning_router, graders_router)


@dataclass
class JobsAPI:
    store: JobStore
    blobs: FileBlobs
    registry: Registry
    settings: JobsSettings
    graders: GraderSettings
    worker: JobWorker | None
    routers: list[APIRouter] = field(default_factory=lambda: list(ROUTERS))

    @classmethod
    def open(
        cls,
        engine: Engine,
        registry: Registry,
        settings: JobsSettings,
        graders: GraderSettings | None = None,
        run_worker: bool = True,
        command=train_command,
    ) -> JobsAPI:
        """Open (and migrate) the store; `run_worker=False` serves the routes only, for
        a server whose jobs another process trains."""
        graders = graders or GraderSettings()
        store = open_store(settings.store_url)
        blobs = FileBlobs(settings.blobs_dir)
        worker = (
            JobWorker(store, blobs, registry, settings, graders, command, engine.preload)
            if run_worker
            else None
        )
        return cls(store, blobs, registry, settings, graders, worker)

    @property
    def state(self) -> dict[str, Any]:
        return {
            "job_store": self.store, "blobs": self.blobs, "jobs_settings": self.settings,
            "registry": self.registry, "graders": self.graders, "jobs_worker": self.worker,
        }  # fmt: skip

    def app_arguments(self) -> dict[str, Any]:
        """What `create_app` takes to serve this API: routes, state, the worker as a
        service, and uploads streamed under their own limit."""
        return {
            "routers": self.routers, "state": self.state, "services": [self],
            "streamed_bodies": {UPLOAD_PATH: self.settings.max_upload_bytes},
        }  # fmt: skip

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.store.close()
