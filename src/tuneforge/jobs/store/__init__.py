"""The jobs store: files, jobs, events and checkpoints in SQLite or PostgreSQL."""

from tuneforge.jobs.store.records import CheckpointRecord, EventRecord, FileRecord, JobRecord
from tuneforge.jobs.store.repository import JobStore, open_store

__all__ = [
    "CheckpointRecord",
    "EventRecord",
    "FileRecord",
    "JobRecord",
    "JobStore",
    "open_store",
]
