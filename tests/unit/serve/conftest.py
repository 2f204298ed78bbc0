"""An app over the FakeEngine with two keys: one of org 'acme', one of org 'admin'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tuneforge.serve.app import create_app
from tuneforge.serve.engine.fake import FakeEngine
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.settings import ServeSettings

MODEL = "fake-base"


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def store(tmp_path) -> KeyStore:
    return KeyStore(tmp_path / "data")


@pytest.fixture
def user_key(store: KeyStore) -> str:
    return store.create("acme")


@pytest.fixture
def admin_key(store: KeyStore) -> str:
    return store.create("admin")


@pytest.fixture
def settings() -> ServeSettings:
    return ServeSettings(max_body_bytes=64 * 1024)


@pytest.fixture
def client(engine, store, user_key, admin_key, settings) -> Iterator[TestClient]:
    app = create_app(engine, store, settings)
    with TestClient(app, headers={"Authorization": f"Bearer {user_key}"}) as test_client:
        yield test_client


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **extra}


def sse(text: str) -> list[Any]:
    """The data of each server-sent event; '[DONE]' stays a string."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def assert_error(response, status: int, param: str | None, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param, error
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error
