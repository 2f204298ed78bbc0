"""The serve app with the jobs API mounted, for route tests: the FakeEngine serving the
tiny model alias, keys of two organisations (acme, globex), and no worker, so a job stays
in the status its test puts it in.

    with open_app(tmp_path) as app:
        file_id = app.upload().json()["id"]
        app.create_job(training_file=file_id)
        app.client.get(JOBS, headers=app.as_globex)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tuneforge.jobs.app import JobsAPI
from tuneforge.jobs.settings import DEFAULT_MAX_UPLOAD_BYTES, JobsSettings
from tuneforge.serve.app import create_app
from tuneforge.serve.engine.fake import FakeEngine
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.registry import Registry
from tuneforge.serve.settings import ServeSettings

MODEL = "tiny-random-llama"  # the engine's base must be an alias the registry can name
FILES = "/v1/files"
JOBS = "/v1/fine_tuning/jobs"
CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
TRAIN_LINE = json.dumps(CHAT).encode() + b"\n"  # one chat example, as a .jsonl file holds it


@dataclass
class JobsApp:
    client: TestClient
    """Sends acme's key unless a request passes other headers."""
    jobs: JobsAPI
    settings: JobsSettings
    acme_key: str
    globex_key: str

    @property
    def as_globex(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.globex_key}"}

    def upload(
        self,
        content: bytes = TRAIN_LINE,
        filename: str = "train.jsonl",
        purpose: str = "fine-tune",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.client.post(
            FILES, files={"file": (filename, content)}, data={"purpose": purpose}, headers=headers
        )

    def file_id(self, headers: dict[str, str] | None = None) -> str:
        """The id of a new training file (acme's, unless headers say otherwise)."""
        response = self.upload(headers=headers)
        assert response.status_code == 200, response.text
        file_id: str = response.json()["id"]
        return file_id

    def create_job(self, headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
        """POST a job on MODEL; `fields` add to (or replace) model and training_file."""
        body = {"model": MODEL, **fields}
        if "training_file" not in body:
            body["training_file"] = self.file_id(headers)
        return self.client.post(JOBS, json=body, headers=headers)

    def job(self, **fields: Any) -> dict[str, Any]:
        """A new job of acme's, as the create route returned it."""
        response = self.create_job(**fields)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job


@contextmanager
def open_app(
    data_dir: Path,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    database_url: str | None = None,
    serve_settings: ServeSettings | None = None,
) -> Iterator[JobsApp]:
    engine = FakeEngine(base=MODEL)
    registry = Registry(data_dir, [MODEL], {})
    settings = JobsSettings(
        data_dir=data_dir, max_upload_bytes=max_upload_bytes, database_url=database_url
    )
    jobs = JobsAPI.open(engine, registry, settings, run_worker=False)
    keys = KeyStore(data_dir)
    acme_key, globex_key = keys.create("acme"), keys.create("globex")
    app = create_app(engine, keys, serve_settings or ServeSettings(), **jobs.app_arguments())
    with TestClient(app, headers={"Authorization": f"Bearer {acme_key}"}) as client:
        yield JobsApp(client, jobs, settings, acme_key, globex_key)
