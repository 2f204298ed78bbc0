from __future__ import annotations

import pytest

from tests.unit.serve.conftest import MODEL, assert_error, chat_body

CHAT = "/v1/chat/completions"


def test_malformed_json(client):
    response = client.post(
        CHAT, content=b'{"model": ', headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, None)
    assert "JSON" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (chat_body(messages=[]), "messages"),
        (chat_body(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role"),
        (
            chat_body(messages=[{"role": "user", "content": [{"type": "image_url"}]}]),
            "messages[0].content",
        ),
        (chat_body(messages=[{"role": "user"}]), "messages[0]"),
        (chat_body(bogus=1), "bogus"),
        (chat_body(temperature=3), "temperature"),
        (chat_body(top_p=0), "top_p"),
        (chat_body(stop=5), "stop"),
        (chat_body(stop=["a", "b", "c", "d", "e"]), "stop"),
        (chat_body(n=9), "n"),
        (chat_body(n=0), "n"),
        (chat_body(top_logprobs=2), "top_logprobs"),
        (chat_body(logprobs=True, top_logprobs=21), "top_logprobs"),
        (chat_body(stream_options={"include_usage": True}), "stream_options"),
        (chat_body(tool_choice="required"), "tool_choice"),
        (chat_body(response_format={"type": "xml"}), "response_format"),
        (chat_body(metadata={"a": 1}), "metadata.a"),
        (chat_body(max_tokens=2048), "max_tokens"),
        (chat_body(max_completion_tokens=5000), "max_completion_tokens"),
        (chat_body(messages=[{"role": "user", "content": "x" * 3000}]), "messages"),
    ],
)
def test_bad_chat_requests(client, body, param):
    assert_error(client.post(CHAT, json=body), 400, param)


@pytest.mark.parametrize(
    "name",
    [
        "logit_bias",
        "parallel_tool_calls",
        "store",
        "audio",
        "reasoning_effort",
        "service_tier",
        "modalities",
    ],
)
def test_known_but_unsupported_params(client, name):
    error = assert_error(client.post(CHAT, json=chat_body(**{name: None})), 400, name)
    assert "not supported" in error["message"]


def test_unknown_field_message(client):
    error = assert_error(client.post(CHAT, json=chat_body(wat=True)), 400, "wat")
    assert "wat" in error["message"]


def test_context_length(client):
    too_long = chat_body(messages=[{"role": "user", "content": "x" * 3000}])
    assert_error(client.post(CHAT, json=too_long), 400, "messages", "context_length_exceeded")
    prompt = {"model": MODEL, "prompt": "x" * 2048}
    assert_error(
        client.post("/v1/completions", json=prompt), 400, "prompt", "context_length_exceeded"
    )
    over = {"model": MODEL, "prompt": "x" * 2000, "max_tokens": 49}
    assert_error(
        client.post("/v1/completions", json=over), 400, "max_tokens", "context_length_exceeded"
    )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "suffix": "y"}, "suffix"),
        ({"prompt": "x", "best_of": 3}, "best_of"),
        ({"prompt": "x", "logprobs": 6}, "logprobs"),
        ({"prompt": "x", "logit_bias": {}}, "logit_bias"),
    ],
)
def test_bad_completion_requests(client, extra, param):
    assert_error(client.post("/v1/completions", json={"model": MODEL, **extra}), 400, param)


def test_unknown_model(client):
    assert_error(client.post(CHAT, json=chat_body(model="nope")), 404, "model", "model_not_found")
    assert_error(client.post(CHAT, json=chat_body(model="../x")), 404, "model", "model_not_found")


def test_body_too_large(client, settings):
    big = chat_body(messages=[{"role": "user", "content": "x" * settings.max_body_bytes}])
    assert_error(client.post(CHAT, json=big), 413, None)


def test_body_too_large_without_content_length(client, settings):
    def chunks():
        yield b'{"model": "fake-base", "messages": [{"role": "user", "content": "'
        for _ in range(settings.max_body_bytes // 1024 + 1):
            yield b"x" * 1024
        yield b'"}]}'

    response = client.post(CHAT, content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, None)


def test_template_error_is_400(client):
    body = chat_body(messages=[{"role": "user", "content": "BREAK THE TEMPLATE"}])
    assert_error(client.post(CHAT, json=body), 400, "messages")


def test_unexpected_error_is_an_openai_500(engine, store, user_key, settings, monkeypatch):
    from fastapi.testclient import TestClient

    from tuneforge.serve.app import create_app

    def boom(model):
        raise RuntimeError("secret traceback detail")

    monkeypatch.setattr(engine, "models", boom)
    app = create_app(engine, store, settings)
    with TestClient(
        app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {user_key}"}
    ) as client:
        response = client.get("/v1/models")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.json()["error"]["type"] == "server_error"
