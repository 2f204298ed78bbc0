"""score_model over real HTTP: a tiny OpenAI-style server under uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI

from tuneforge.graders import GraderSettings, grade

REPLIES: list[str] = []
REQUESTS: list[dict] = []


@pytest.fixture(scope="module")
def base_url():
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        REQUESTS.append(body)
        message = {"role": "assistant", "content": REPLIES.pop(0)}
        usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
        return {"model": "judge-1", "choices": [{"message": message}], "usage": usage}

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    thread.join(5)


GRADER = {
    "type": "score_model", "name": "judge", "model": "judge", "range": [0, 10],
    "input": [{"role": "developer", "content": "Grade against {{item.reference_answer}}."},
              {"role": "user",
               "content": [{"type": "input_text", "text": "{{sample.output_text}}"}]}],
    "sampling_params": {"temperature": 0, "seed": 7},
}  # fmt: skip


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("7", 7.0), ('{"result": 3.5}', 3.5), ("Steps: 1, 2. Score: 8.5", 8.5), ("42", 10.0)],
)
def test_reply_parsed_and_clamped(base_url, reply, expected):
    REPLIES.append(reply)
    settings = GraderSettings(score_model_base_url=base_url)
    result = grade(GRADER, "Paris", {"reference_answer": "Paris"}, settings)
    assert result.error_kind is None, result.error_message
    assert result.reward == expected
    assert result.sampled_model_name == "judge-1"
    assert result.token_usage_per_model == {
        "judge-1": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    }
    sent = REQUESTS[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Grade against Paris."},
        {"role": "user", "content": "Paris"},
    ]
    assert sent["temperature"] == 0 and sent["seed"] == 7


def test_reply_without_a_number_is_a_parse_error(base_url):
    REPLIES.append("excellent")
    result = grade(
        GRADER, "x", {"reference_answer": "y"}, GraderSettings(score_model_base_url=base_url)
    )
    assert result.error_kind == "model_grader_parse_error" and result.reward == 0.0


def test_unreachable_endpoint_is_a_server_error():
    settings = GraderSettings(score_model_base_url="http://127.0.0.1:9/v1", score_model_timeout_s=2)
    result = grade(GRADER, "x", {"reference_answer": "y"}, settings)
    assert result.error_kind == "model_grader_server_error"
