"""The Files API's logic: purpose and size checks, blobs on disk, rows in the store.

A file of another organisation is answered exactly like a missing one (404, OpenAI's
"No such File object"), never 403, which would confirm that the id exists.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from tuneforge.jobs.blobs import BlobTooLarge, FileBlobs
from tuneforge.jobs.files.schemas import FileDeleted, FileList, FileObject
from tuneforge.jobs.settings import JobsSettings
from tuneforge.jobs.store import FileRecord, JobStore
from tuneforge.serve.errors import APIError

ACCEPTED_PURPOSES = ("fine-tune",)
# OpenAI's other purposes: known, so refused with a reason rather than as a typo.
OTHER_PURPOSES = ("assistants", "batch", "vision", "user_data", "evals")


def check_purpose(purpose: str) -> None:
    if purpose in ACCEPTED_PURPOSES:
        return
    if purpose in OTHER_PURPOSES:
        message = (
            f"purpose '{purpose}' is not supported by this server: it serves the "
            "fine-tuning API only, so upload files with purpose 'fine-tune'."
        )
    else:
        known = ", ".join(repr(p) for p in (*ACCEPTED_PURPOSES, *OTHER_PURPOSES))
        message = f"Invalid value for 'purpose': {purpose!r}. Expected one of {known}."
    raise APIError(400, message, param="purpose", code="invalid_purpose")


def too_large(settings: JobsSettings) -> APIError:
    return APIError(
        413,
        f"The file is larger than this server's limit of {settings.max_upload_bytes} bytes "
        "for one upload.",
        param="file",
        code="file_too_large",
    )


def not_found(file_id: str) -> APIError:
    return APIError(404, f"No such File object: {file_id}", param="file_id", code="file_not_found")


def to_schema(record: FileRecord) -> FileObject:
    return FileObject(
        id=record.id,
        bytes=record.bytes,
        created_at=record.created_at,
        filename=record.filename,
        purpose=record.purpose,
        status=record.status,
    )


async def upload(
    store: JobStore,
    blobs: FileBlobs,
    settings: JobsSettings,
    org: str,
    file: UploadFile,
    purpose: str,
) -> FileObject:
    check_purpose(purpose)
    try:
        blob, size = await blobs.save(file, settings.max_upload_bytes)
    except BlobTooLarge as exc:
        raise too_large(settings) from exc
    if size == 0:
        blobs.delete(blob)
        raise APIError(400, "The uploaded file is empty.", param="file", code="empty_file")
    filename = file.filename or "upload"
    try:
        record = await run_in_threadpool(store.create_file, org, filename, purpose, size, blob)
    except BaseException:
        blobs.delete(blob)  # no row points at it: it would never be cleaned up
        raise
    return to_schema(record)


def list_files(
    store: JobStore, org: str, purpose: str | None, limit: int, order: str, after: str | None
) -> FileList:
    records, has_more = store.list_files(
        org, purpose=purpose, limit=limit, order=order, after=after
    )
    data = [to_schema(record) for record in records]
    return FileList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )


def retrieve(store: JobStore, org: str, file_id: str) -> FileObject:
    return to_schema(_find(store, org, file_id))


def content(store: JobStore, blobs: FileBlobs, org: str, file_id: str) -> tuple[Path, str]:
    """The blob's path and the client's filename, for a streamed response."""
    record = _find(store, org, file_id)
    path = blobs.path(record.blob)
    if not path.is_file():
        raise APIError(
            500,
            f"The content of {file_id} is missing from this server's storage.",
            type="server_error",
        )
    return path, record.filename


def delete(store: JobStore, blobs: FileBlobs, org: str, file_id: str) -> FileDeleted:
    record = store.delete_file(org, file_id)
    if record is None:
        raise not_found(file_id)
    blobs.delete(record.blob)  # after the row: a crash between leaves an orphan, not a hole
    return FileDeleted(id=record.id)


def _find(store: JobStore, org: str, file_id: str) -> FileRecord:
    record = store.get_file(org, file_id)
    if record is None:
        raise not_found(file_id)
    return record
