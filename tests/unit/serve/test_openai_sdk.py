"""The official SDK over real HTTP: what users' code will actually do."""

from __future__ import annotations

import openai
import pytest

from tests.threaded_server import serve_in_thread
from tests.unit.serve.conftest import MODEL
from tuneforge.serve.app import create_app


@pytest.fixture
def base_url(engine, store, settings):
    with serve_in_thread(create_app(engine, store, settings)) as url:
        yield f"{url}/v1"


def test_sdk_round_trip(base_url, user_key):
    client = openai.OpenAI(base_url=base_url, api_key=user_key, max_retries=0)
    assert [m.id for m in client.models.list()] == [MODEL]
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=0
    )
    assert reply.choices[0].message.content == "Hello! I am a fake model."
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! I am a fake model."
    assert chunks[-1].usage is not None
    done = client.completions.create(model=MODEL, prompt="abc", max_tokens=5, temperature=0)
    assert done.choices[0].text == "Hello"


def test_sdk_errors(base_url, user_key):
    client = openai.OpenAI(base_url=base_url, api_key=user_key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], logit_bias={"1": 1}
        )
    assert bad.value.param == "logit_bias"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="tf-wrong", max_retries=0).models.list()
