from __future__ import annotations

from tests.unit.serve.conftest import MODEL, sse

REPLY = "Hello! I am a fake model."


def test_completion(client):
    body = client.post(
        "/v1/completions", json={"model": MODEL, "prompt": "abc", "temperature": 0}
    ).json()
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert body["choices"] == [
        {"text": REPLY, "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    assert body["usage"]["prompt_tokens"] == 3


def test_prompt_list_n_echo_logprobs(client):
    body = client.post(
        "/v1/completions",
        json={
            "model": MODEL,
            "prompt": ["ab", "cd"],
            "n": 2,
            "temperature": 0,
            "max_tokens": 2,
            "echo": True,
            "logprobs": 1,
        },
    ).json()
    texts = [c["text"] for c in body["choices"]]
    assert texts == ["abHe", "abHe", "cdHe", "cdHe"]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    lp = body["choices"][0]["logprobs"]
    assert lp["tokens"] == ["H", "e"] and lp["text_offset"] == [2, 3]
    assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 8, "total_tokens": 12}


def test_completion_stream_with_stop(client, engine):
    with client.stream(
        "POST",
        "/v1/completions",
        json={
            "model": MODEL,
            "prompt": "x",
            "temperature": 0,
            "stream": True,
            "stop": ["am"],
            "stream_options": {"include_usage": True},
        },
    ) as response:
        events = sse(response.read().decode())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks[:-1]) == "Hello! I "
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 1
    assert engine.closed == 1
