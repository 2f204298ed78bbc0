"""Uploaded file contents on disk, one file per blob under one root directory.

A blob's name is random (`secrets.token_hex`), unrelated to the file id clients see and
to the filename they sent, and every name is checked against one pattern before it
becomes a path: nothing a client sends can point the server at another file.

An upload is streamed in chunks to `.<name>.partial` and renamed into place only when
complete and within the limit, so a crash or a refused upload never leaves a blob that
looks whole, and the content is never held in memory at once.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterable
from pathlib import Path
from typing import BinaryIO, Protocol

from starlette.concurrency import run_in_threadpool

CHUNK_BYTES = 1024 * 1024
BLOB_NAME = re.compile(r"[0-9a-f]{32}")


class AsyncReadable(Protocol):
    """What `fastapi.UploadFile` offers: `await read(n)`."""

    async def read(self, size: int = -1) -> bytes: ...


class BlobTooLarge(Exception):
    def __init__(self, max_bytes: int):
        super().__init__(f"the upload is larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class FileBlobs:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    async def save(
        self, upload: AsyncReadable | AsyncIterable[bytes], max_bytes: int
    ) -> tuple[str, int]:
        """Write the upload to a new blob: (name, size). BlobTooLarge past `max_bytes`."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = secrets.token_hex(16)
        partial = self.root / f".{name}.partial"
        size = 0
        handle = await run_in_threadpool(open, partial, "xb")
        try:
            async for chunk in _chunks(upload):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                # Disk writes off the event loop: one slow disk must not stall every request.
                await run_in_threadpool(handle.write, chunk)
            await run_in_threadpool(_flush_and_close, handle)
            os.replace(partial, self.root / name)
        except BaseException:
            handle.close()
            partial.unlink(missing_ok=True)
            raise
        return name, size

    def save_bytes(self, content: bytes) -> tuple[str, int]:
        """Write content the server made itself (a job's result file) to a new blob."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = secrets.token_hex(16)
        partial = self.root / f".{name}.partial"
        try:
            with open(partial, "xb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.root / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return name, len(content)

    def path(self, blob: str) -> Path:
        if not BLOB_NAME.fullmatch(blob):
            raise ValueError(f"{blob!r} is not a blob name")
        return self.root / blob

    def open(self, blob: str) -> BinaryIO:
        return self.path(blob).open("rb")

    def delete(self, blob: str) -> None:
        self.path(blob).unlink(missing_ok=True)


async def _chunks(upload: AsyncReadable | AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    if isinstance(upload, AsyncIterable):
        async for chunk in upload:
            if chunk:
                yield chunk
        return
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


def _flush_and_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
