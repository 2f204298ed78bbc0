from __future__ import annotations

import json

from tests.unit.serve.conftest import MODEL, chat_body, sse

REPLY = "Hello! I am a fake model."


def test_chat_greedy(client, engine):
    body = client.post("/v1/chat/completions", json=chat_body(temperature=0)).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == MODEL and "system_fingerprint" in body
    (choice,) = body["choices"]
    assert choice == {
        "index": 0,
        "finish_reason": "stop",
        "logprobs": None,
        "message": {"role": "assistant", "content": REPLY, "refusal": None},
    }
    (request,) = engine.requests
    prompt = len(request.prompt_ids)
    # every reply char plus the end token
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": len(REPLY) + 1,
        "total_tokens": prompt + len(REPLY) + 1,
    }
    assert request.params.max_tokens == 2048 - prompt  # the context left
    assert request.params.stop_token_ids == engine.end_token_ids(MODEL)


def test_text_parts_joined_and_max_completion_tokens_wins(client, engine):
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]
    body = client.post(
        "/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": messages,
            "max_tokens": 9,
            "max_completion_tokens": 3,
            "temperature": 0,
        },
    ).json()
    assert body["choices"][0]["message"]["content"] == REPLY[:3]
    assert body["choices"][0]["finish_reason"] == "length"
    assert "<user>ab\n" in engine.decode(MODEL, engine.requests[0].prompt_ids)


def test_n_choices_and_seed_reproducible(client, engine):
    def run(seed):
        body = client.post(
            "/v1/chat/completions", json=chat_body(n=3, temperature=1, seed=seed)
        ).json()
        return [c["message"]["content"] for c in body["choices"]]

    first = run(7)
    assert len(first) == 3 and len(set(first)) == 3  # seed + i per choice
    assert run(7) == first
    assert run(8) != first
    assert [r.params.seed for r in engine.requests[:3]] == [7, 8, 9]


def test_stop_string_split_across_tokens(client, engine):
    # One character per token, so "I am" arrives as four tokens.
    body = client.post(
        "/v1/chat/completions", json=chat_body(temperature=0, stop=["I am", "zzz"])
    ).json()
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Hello! "
    assert choice["finish_reason"] == "stop"
    assert engine.closed == 1  # the engine iterator was closed early
    assert body["usage"]["completion_tokens"] == len("Hello! I am")


def test_stream_chunks(client):
    with client.stream(
        "POST", "/v1/chat/completions", json=chat_body(temperature=0, stream=True)
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response.read().decode())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == REPLY
    assert all("usage" not in c for c in chunks)


def test_stream_include_usage_and_hold_back(client):
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json=chat_body(
            temperature=0, stream=True, stop="I am", n=2, stream_options={"include_usage": True}
        ),
    ) as response:
        events = sse(response.read().decode())
    chunks = events[:-1]
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 2 * len("Hello! I am")
    assert all(c["usage"] is None for c in chunks[:-1])
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks[:-1] if c["choices"][0]["index"] == index]
        deltas = [m["delta"].get("content", "") for m in mine]
        assert "".join(deltas) == "Hello! "
        assert not any("I" in d for d in deltas)  # the held "I" was never sent
        assert mine[-1]["finish_reason"] == "stop"


def test_json_schema_response_parses(client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    body = client.post(
        "/v1/chat/completions",
        json=chat_body(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": schema, "strict": True},
            }
        ),
    ).json()
    value = json.loads(body["choices"][0]["message"]["content"])
    assert set(value) == {"name", "age"} and isinstance(value["age"], int)
    body = client.post(
        "/v1/chat/completions", json=chat_body(response_format={"type": "json_object"})
    ).json()
    assert isinstance(json.loads(body["choices"][0]["message"]["content"]), dict)


def test_logprobs(client):
    body = client.post(
        "/v1/chat/completions",
        json=chat_body(temperature=0, max_tokens=3, logprobs=True, top_logprobs=2),
    ).json()
    content = body["choices"][0]["logprobs"]["content"]
    assert [c["token"] for c in content] == list(REPLY[:3])
    assert content[0]["bytes"] == list(b"H") and len(content[0]["top_logprobs"]) == 2


def test_tools_reach_the_template(client, engine):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    response = client.post("/v1/chat/completions", json=chat_body(tools=tools, tool_choice="auto"))
    assert response.status_code == 200
    assert "<tools>" in engine.decode(MODEL, engine.requests[0].prompt_ids)


def test_client_disconnect_closes_engine_iterator(engine, store, user_key, settings):
    import asyncio

    import httpx

    from tuneforge.serve.app import create_app

    engine.delay = 0.01
    app = create_app(engine, store, settings)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
            client.stream(
                "POST",
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {user_key}"},
                json=chat_body(stream=True, n=2),
            ) as response,
        ):
            async for _ in response.aiter_lines():
                break
        for _ in range(100):
            if engine.running == 0:
                break
            await asyncio.sleep(0.01)

    asyncio.run(go())
    assert engine.running == 0 and engine.closed == 2
