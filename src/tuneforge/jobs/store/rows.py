"""Rows and records: converting the ORM rows to the frozen records callers get, and the
checks on the job fields a caller may set."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tuneforge.jobs.store.records import CheckpointRecord, EventRecord, FileRecord, JobRecord
from tuneforge.jobs.store.tables import CheckpointRow, EventRow, FileRow, JobRow

JOB_FIELDS = frozenset(f.name for f in dataclasses.fields(JobRecord))
# Set by the store itself, never through create_job/update_job.
OWN_JOB_FIELDS = frozenset({"id", "org", "created_at"})
# Record field -> ORM attribute where they differ (DeclarativeBase owns `metadata`).
JOB_ATTRIBUTES = {"metadata": "meta"}


def check_job_fields(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - JOB_FIELDS
    if unknown:
        raise TypeError(f"unknown job fields {sorted(unknown)}; known: {sorted(JOB_FIELDS)}")
    own = set(fields) & OWN_JOB_FIELDS
    if own:
        raise TypeError(f"{sorted(own)} are set by the store and cannot be given")


def job_attributes(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {JOB_ATTRIBUTES.get(name, name): value for name, value in fields.items()}


def file_record(row: FileRow) -> FileRecord:
    return FileRecord(
        id=row.id,
        org=row.org,
        filename=row.filename,
        purpose=row.purpose,
        bytes=row.bytes,
        created_at=row.created_at,
        blob=row.blob,
        status=row.status,
    )


def job_record(row: JobRow) -> JobRecord:
    values = {name: getattr(row, JOB_ATTRIBUTES.get(name, name)) for name in JOB_FIELDS}
    return JobRecord(**values)


def event_record(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        job_id=row.job_id,
        created_at=row.created_at,
        level=row.level,
        message=row.message,
        type=row.type,
        data=row.data,
    )


def checkpoint_record(row: CheckpointRow) -> CheckpointRecord:
    return CheckpointRecord(
        id=row.id,
        job_id=row.job_id,
        created_at=row.created_at,
        step_number=row.step_number,
        metrics=row.metrics,
        fine_tuned_model_checkpoint=row.fine_tuned_model_checkpoint,
        path=row.path,
    )
