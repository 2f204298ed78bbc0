"""What the store hands out: frozen snapshots of rows, never ORM objects.

A caller holding a record holds no session and no connection, so a record can cross
threads, outlive the request that read it, and be compared in tests like any value.
Field names follow OpenAI's objects; `seq`-based ordering stays inside the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FileRecord:
    id: str  # "file-<24 hex>"
    org: str
    filename: str  # as the client sent it: metadata only, never a path
    purpose: str
    bytes: int
    created_at: int  # unix seconds
    blob: str  # the content's name under FileBlobs' root: random, unrelated to `id`
    status: str = "processed"


@dataclass(frozen=True)
class JobRecord:
    id: str  # "ftjob-<24 hex>"
    org: str
    model: str
    training_file: str
    seed: int
    status: str
    created_at: int
    method: dict[str, Any] = field(default_factory=dict)  # OpenAI's method object, resolved
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    validation_file: str | None = None
    suffix: str | None = None
    metadata: dict[str, str] | None = None
    started_at: int | None = None
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    estimated_finish: int | None = None
    result_files: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    run_dir: str | None = None
    attempts: int = 0
    worker: str | None = None  # the server validating or running it
    heartbeat_at: int | None = None  # its worker's last sign of life while running
    requested: str | None = None  # "cancel" | "pause" | None: what a client asked the worker
    extra: dict[str, Any] = field(default_factory=dict)  # TuneForge extensions (adapter, ...)


@dataclass(frozen=True)
class EventRecord:
    id: str  # "ftevent-<24 hex>"
    job_id: str
    created_at: int
    level: str  # "info" | "warn" | "error"
    message: str
    type: str = "message"  # "message" | "metrics"
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class CheckpointRecord:
    id: str  # "ftckpt-<24 hex>"
    job_id: str
    created_at: int
    step_number: int
    metrics: dict[str, Any]
    fine_tuned_model_checkpoint: str
    path: str
