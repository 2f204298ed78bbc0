"""Property test over the OpenAPI schema: no generated input may make the server fail."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis

from tuneforge.serve.app import create_app
from tuneforge.serve.engine.fake import FakeEngine
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.settings import ServeSettings


def _app_and_key(tmp_dir: str):
    store = KeyStore(tmp_dir)
    key = store.create("admin")  # admin, so the adapter routes are exercised too
    return create_app(FakeEngine(context_length=256), store, ServeSettings()), key


import tempfile  # noqa: E402  (a module-level app: schemathesis loads the schema at import)

APP, KEY = _app_and_key(tempfile.mkdtemp(prefix="tuneforge-serve-"))
HEADERS = {"Authorization": f"Bearer {KEY}"}
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers=HEADERS)


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


def test_schema_lists_the_routes():
    paths = set(schema.raw_schema["paths"])
    assert {"/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/adapters"} <= paths
    assert pytest is not None
