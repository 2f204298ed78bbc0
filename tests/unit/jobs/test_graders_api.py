"""POST /v1/fine_tuning/alpha/graders/run and /validate on the serve app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tuneforge.graders import GraderSettings
from tuneforge.jobs.graders_api import router
from tuneforge.serve.app import create_app
from tuneforge.serve.engine.fake import FakeEngine
from tuneforge.serve.settings import ServeSettings

EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.reference_answer}}", "operation": "eq"}  # fmt: skip
RUN = "/v1/fine_tuning/alpha/graders/run"
VALIDATE = "/v1/fine_tuning/alpha/graders/validate"


def client(**state) -> TestClient:
    return TestClient(
        create_app(FakeEngine(), keys=None, settings=ServeSettings(), routers=[router], state=state)
    )


def test_run_returns_openai_shape():
    body = {"grader": EXACT, "model_sample": "Paris", "item": {"reference_answer": "Paris"}}
    response = client().post(RUN, json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["reward"] == 1.0 and data["sub_rewards"] == {}
    assert data["model_grader_token_usage_per_model"] == {}
    meta = data["metadata"]
    assert meta["name"] == "exact" and meta["type"] == "string_check"
    assert not any(v for k, v in meta["errors"].items() if k.endswith("_error"))
    assert set(meta) == {"name", "type", "errors", "execution_time", "scores", "token_usage",
                         "sampled_model_name"}  # fmt: skip


def test_run_reports_a_missing_item_field_as_an_error_flag():
    data = client().post(RUN, json={"grader": EXACT, "model_sample": "x"}).json()
    assert data["reward"] == 0.0 and data["metadata"]["errors"]["invalid_variable_error"]
    assert "item.reference_answer" in data["metadata"]["errors"]["error_message"]


def test_validate_normalises_and_names_the_bad_field():
    response = client().post(VALIDATE, json={"grader": EXACT})
    assert response.status_code == 200 and response.json() == {"grader": EXACT}
    bad = {"type": "multi", "name": "m", "graders": {"e": {**EXACT, "operation": "is"}},
           "calculate_output": "e"}  # fmt: skip
    error = client().post(VALIDATE, json={"grader": bad}).json()["error"]
    assert error["param"] == "grader.graders.e.operation"
    error = client().post(VALIDATE, json={"grader": {**EXACT, "calculate_output": "e"}})
    assert error.status_code == 400 and error.json()["error"]["param"] == "grader.calculate_output"


@pytest.mark.parametrize("state", [{}, {"graders": GraderSettings()}])
def test_python_graders_are_off_unless_allowed(state):
    python = {"type": "python", "name": "p", "source": "def grade(s, i): return 0.25"}
    response = client(**state).post(RUN, json={"grader": python, "model_sample": "x"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "grader.type" and "--allow-python-graders" in error["message"]


def test_python_grader_runs_when_allowed():
    python = {"type": "python", "name": "p", "source": "def grade(s, i): return 0.25"}
    app = client(graders=GraderSettings(allow_python=True))
    response = app.post(RUN, json={"grader": python, "model_sample": "x"})
    assert response.status_code == 200, response.text
    assert response.json()["reward"] == 0.25


def test_unsupported_metric_and_unknown_request_field():
    cosine = {"type": "text_similarity", "name": "t", "input": "a", "reference": "b",
              "evaluation_metric": "cosine"}  # fmt: skip
    error = client().post(VALIDATE, json={"grader": cosine}).json()["error"]
    assert error["param"] == "grader.evaluation_metric"
    response = client().post(RUN, json={"grader": EXACT, "model_sample": "x", "extra": 1})
    assert response.status_code == 400
