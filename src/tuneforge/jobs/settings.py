"""Settings of the jobs API in one `tuneforge serve` process, fixed at start-up."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # OpenAI's limit for one fine-tuning file


@dataclass(frozen=True)
class JobsSettings:
    data_dir: Path
    """Where jobs.db (the SQLite default), uploaded files (files/) and runs (runs/) live."""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    """The largest file `POST /v1/files` accepts."""
    database_url: str | None = None
    """sqlite:///path or postgresql://...; None: sqlite:///<data_dir>/jobs.db."""
    max_running_jobs: int = 1
    """Trainers this server runs at once (one per GPU is the usual choice)."""
    poll_s: float = 0.5
    """How often a running job's progress is read (a client's request wakes it sooner)."""
    heartbeat_s: float = 5.0
    """How often a worker records that it still runs its jobs."""
    stale_s: float = 60.0
    """A worker silent this long is presumed dead, and its jobs are taken over."""
    worker: str | None = None
    """This worker's name in the store; None: derived from the host and data directory,
    so a restarted server recognises (and resumes) the jobs it ran before."""

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise ValueError(f"max_upload_bytes must be at least 1, not {self.max_upload_bytes}")
        if self.max_running_jobs < 1:
            raise ValueError(f"max_running_jobs must be at least 1, not {self.max_running_jobs}")

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'jobs.db'}"

    @property
    def blobs_dir(self) -> Path:
        return Path(self.data_dir) / "files"

    @property
    def runs_dir(self) -> Path:
        return Path(self.data_dir) / "runs"

    @property
    def worker_name(self) -> str:
        if self.worker:
            return self.worker
        folder = str(Path(self.data_dir).resolve())
        return f"{socket.gethostname()}:{hashlib.sha256(folder.encode()).hexdigest()[:12]}"
