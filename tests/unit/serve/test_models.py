from __future__ import annotations

import pytest

from tests.unit.serve.conftest import MODEL, assert_error


def test_list_models(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model == {
        "id": MODEL,
        "object": "model",
        "created": model["created"],
        "owned_by": "tuneforge",
        "parent": None,
        "root": MODEL,
    }


def test_get_model(client):
    assert client.get(f"/v1/models/{MODEL}").json()["id"] == MODEL


@pytest.mark.parametrize(
    "model_id",
    [
        "..%2Fetc%2Fpasswd",
        "a/b",
        "a%5Cb",
        "http://x",
        "..x",
        "nope",
    ],
)
def test_unknown_or_pathlike_model_is_404(client, model_id):
    assert_error(client.get(f"/v1/models/{model_id}"), 404, "model", "model_not_found")


def test_pathlike_id_never_reaches_the_engine(client, engine, monkeypatch):
    seen = []
    monkeypatch.setattr(engine, "card", lambda m: seen.append(m))
    client.get("/v1/models/..%2Fetc%2Fpasswd")
    assert seen == []


def test_auth_required_everywhere(client):
    for method, path in [
        ("get", "/v1/models"),
        ("get", f"/v1/models/{MODEL}"),
        ("post", "/v1/chat/completions"),
        ("post", "/v1/completions"),
        ("get", "/openapi.json"),
    ]:
        response = getattr(client, method)(path, headers={"Authorization": ""})
        assert_error(response, 401, None, "invalid_api_key")
        response = getattr(client, method)(path, headers={"Authorization": "Bearer tf-wrong"})
        assert_error(response, 401, None, "invalid_api_key")


def test_no_auth_serves_everyone(engine, settings):
    from fastapi.testclient import TestClient

    from tuneforge.serve.app import create_app

    with TestClient(create_app(engine, None, settings)) as client:
        assert client.get("/v1/models").status_code == 200
        assert engine.started
    assert not engine.started  # lifespan closed the engine


def test_unknown_route_and_method(client):
    assert_error(client.get("/v1/nothing"), 404, None)
    assert_error(client.delete("/v1/models"), 405, None)
