"""Property test over the OpenAPI schema of the files, fine-tuning and graders routes: no
generated input may make the server fail (a 500) or answer outside OpenAI's error shape."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis
import schemathesis

from tests.helpers import TINY
from tuneforge.jobs.app import JobsAPI
from tuneforge.jobs.settings import JobsSettings
from tuneforge.serve.app import create_app
from tuneforge.serve.engine.fake import FakeEngine
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.registry import Registry
from tuneforge.serve.settings import ServeSettings


def _app_and_key(data_dir: Path):
    keys = KeyStore(data_dir)
    engine = FakeEngine(base=TINY)
    settings = JobsSettings(data_dir, max_upload_bytes=64 * 1024)
    jobs = JobsAPI.open(engine, Registry(data_dir, [TINY], {}), settings, run_worker=False)
    app = create_app(engine, keys, ServeSettings(), **jobs.app_arguments())
    return app, keys.create("acme")


# A module-level app: schemathesis reads the schema when the module is imported.
APP, KEY = _app_and_key(Path(tempfile.mkdtemp(prefix="tuneforge-jobs-")))
HEADERS = {"Authorization": f"Bearer {KEY}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers=HEADERS).include(
    path_regex="^/v1/(files|fine_tuning)"
)


@schema.parametrize()
@hypothesis.settings(
    max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_no_input_makes_a_server_error(case):
    response = case.call(headers=HEADERS)
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}


def test_schema_lists_the_jobs_routes():
    paths = set(schema.raw_schema["paths"])
    assert {
        "/v1/files", "/v1/files/{file_id}", "/v1/files/{file_id}/content",
        "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/{job_id}",
        "/v1/fine_tuning/jobs/{job_id}/cancel", "/v1/fine_tuning/jobs/{job_id}/pause",
        "/v1/fine_tuning/jobs/{job_id}/resume", "/v1/fine_tuning/jobs/{job_id}/events",
        "/v1/fine_tuning/jobs/{job_id}/checkpoints",
        "/v1/fine_tuning/alpha/graders/run", "/v1/fine_tuning/alpha/graders/validate",
    } <= paths  # fmt: skip
