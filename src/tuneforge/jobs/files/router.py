"""POST/GET /v1/files, GET/DELETE /v1/files/{file_id}, GET /v1/files/{file_id}/content."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse

from tuneforge.jobs.deps import BlobsDep, JobsSettingsDep, StoreDep
from tuneforge.jobs.files import service
from tuneforge.jobs.files.schemas import FileDeleted, FileList, FileObject
from tuneforge.serve.deps import OrgDep

router = APIRouter()
# The body streams to this route unbuffered, cut off past the upload limit
# (serve/limits.py); the file itself is held to the limit exactly as it is written (blobs.py).
UPLOAD_PATH = "/v1/files"


@router.post(UPLOAD_PATH, response_model=FileObject)
async def create_file(
    file: Annotated[UploadFile, File()],
    purpose: Annotated[str, Form()],
    org: OrgDep,
    store: StoreDep,
    blobs: BlobsDep,
    settings: JobsSettingsDep,
) -> FileObject:
    return await service.upload(store, blobs, settings, org, file, purpose)


@router.get("/v1/files", response_model=FileList)
def list_files(
    org: OrgDep,
    store: StoreDep,
    purpose: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> FileList:
    return service.list_files(store, org, purpose, limit, order, after)


@router.get("/v1/files/{file_id}", response_model=FileObject)
def retrieve_file(file_id: str, org: OrgDep, store: StoreDep) -> FileObject:
    return service.retrieve(store, org, file_id)


@router.get("/v1/files/{file_id}/content", response_class=FileResponse)
def file_content(file_id: str, org: OrgDep, store: StoreDep, blobs: BlobsDep) -> FileResponse:
    path, filename = service.content(store, blobs, org, file_id)
    return FileResponse(path, media_type="application/octet-stream", filename=filename)


@router.delete("/v1/files/{file_id}", response_model=FileDeleted)
def delete_file(file_id: str, org: OrgDep, store: StoreDep, blobs: BlobsDep) -> FileDeleted:
    return service.delete(store, blobs, org, file_id)
