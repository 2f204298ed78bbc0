"""/v1/fine_tuning/jobs: create, list, retrieve, cancel, pause, resume, events and
checkpoints, checked against OpenAI's fine-tuning API. No worker runs, so a job stays in
`validating_files` unless a test moves it with the store, as a worker would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from tests.unit.jobs.api_app import JOBS, MODEL, JobsApp, open_app
from tests.unit.serve.conftest import assert_error

AUTO = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}", "operation": "eq"}  # fmt: skip
JOB_ROUTES = [("get", ""), ("post", "/cancel"), ("post", "/pause"), ("post", "/resume"),
              ("get", "/events"), ("get", "/checkpoints")]  # fmt: skip
"""The routes of one job: (method, what follows /v1/fine_tuning/jobs/{id})."""
PYTHON = {"type": "python", "name": "p", "source": "def grade(sample, item): return 1.0"}


@pytest.fixture
def app(tmp_path) -> Iterator[JobsApp]:
    with open_app(tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Iterator[JobsApp]:
    """One app for the tests whose requests are all refused: they change nothing."""
    with open_app(tmp_path_factory.mktemp("shared")) as opened:
        yield opened


@pytest.fixture(scope="module")
def shared_file(shared) -> str:
    return shared.file_id()


@pytest.fixture
def job(app) -> dict[str, Any]:
    """acme's job on a new training file, in validating_files."""
    return app.job()


def running(app: JobsApp, job_id: str) -> None:
    """Move a job to running, as the worker does once its files are valid and it starts."""
    assert app.jobs.store.transition(job_id, ["validating_files"], "running") is not None


def messages(app: JobsApp, job_id: str) -> list[str]:
    """The job's event messages, newest first."""
    events = app.client.get(f"{JOBS}/{job_id}/events").json()["data"]
    return [event["message"] for event in events]


def reinforcement(settings: dict[str, Any]) -> dict[str, Any]:
    return {"type": "reinforcement", "reinforcement": settings}


# ---- create ------------------------------------------------------------------------------


def test_create_returns_an_openai_job_in_validating_files(app):
    file_id = app.file_id()
    before = int(time.time())
    response = app.create_job(training_file=file_id)
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["id"].startswith("ftjob-")
    assert job["object"] == "fine_tuning.job"
    assert job["status"] == "validating_files"
    assert job["organization_id"] == "acme"
    assert (job["model"], job["training_file"], job["validation_file"]) == (MODEL, file_id, None)
    assert before <= job["created_at"] <= int(time.time())
    assert job["fine_tuned_model"] is None and job["finished_at"] is None
    assert job["result_files"] == [] and job["error"] is None


def test_create_shows_every_hyperparameter_auto_when_none_given(job):
    assert job["hyperparameters"] == AUTO
    assert job["method"] == {"type": "supervised", "supervised": {"hyperparameters": AUTO}}


def test_create_keeps_a_given_n_epochs_and_fills_the_rest_with_auto(app):
    job = app.job(hyperparameters={"n_epochs": 2})
    expected = {**AUTO, "n_epochs": 2}
    assert job["hyperparameters"] == expected
    assert job["method"]["supervised"]["hyperparameters"] == expected


def test_method_hyperparameters_also_show_in_the_top_level_hyperparameters(app):
    method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}
    job = app.job(method=method)
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert job["hyperparameters"]["n_epochs"] == 2


def test_dpo_method_keeps_a_given_beta_and_shows_the_rest_auto(app):
    job = app.job(method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}})
    assert job["method"] == {"type": "dpo", "dpo": {"hyperparameters": {**AUTO, "beta": 0.2}}}


def test_reinforcement_method_keeps_its_grader(app):
    job = app.job(method=reinforcement({"grader": EXACT}))
    settings = job["method"]["reinforcement"]
    assert settings["grader"] == EXACT
    assert settings["hyperparameters"]["compute_multiplier"] == "auto"


def test_seed_is_chosen_when_not_given(job):
    assert isinstance(job["seed"], int) and 0 <= job["seed"] < 2**31


@pytest.mark.parametrize("seed", [0, 42])
def test_given_seed_is_kept(app, seed):
    assert app.job(seed=seed)["seed"] == seed


def test_suffix_and_metadata_are_kept(app):
    job = app.job(suffix="my-model.v1", metadata={"team": "a"})
    assert job["user_provided_suffix"] == "my-model.v1"
    assert job["metadata"] == {"team": "a"}


def test_create_logs_created_then_validating_newest_first(app, job):
    assert messages(app, job["id"]) == [
        f"Validating training file: {job['training_file']}",
        f"Created fine-tuning job: {job['id']}",
    ]


def test_events_are_openai_event_objects(app, job):
    body = app.client.get(f"{JOBS}/{job['id']}/events").json()
    assert body["object"] == "list" and body["has_more"] is False
    event = body["data"][0]
    assert event["id"].startswith("ftevent-")
    assert event["object"] == "fine_tuning.job.event"
    assert event["level"] == "info" and event["type"] == "message"


def test_events_page_with_limit_and_after(app, job):
    path = f"{JOBS}/{job['id']}/events"
    first = app.client.get(path, params={"limit": 1}).json()
    assert first["has_more"] is True
    assert first["data"][0]["message"].startswith("Validating training file")
    rest = app.client.get(path, params={"limit": 1, "after": first["data"][0]["id"]}).json()
    assert rest["has_more"] is False
    assert rest["data"][0]["message"].startswith("Created fine-tuning job")


def test_wandb_integration_is_accepted_with_a_warning_event(app):
    job = app.job(integrations=[{"type": "wandb", "wandb": {"project": "p"}}])
    events = app.client.get(f"{JOBS}/{job['id']}/events").json()["data"]
    warnings = [e["message"] for e in events if e["level"] == "warn"]
    assert len(warnings) == 1 and "wandb" in warnings[0]


# ---- create: refusals ----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["no-such-model", "../x", "/etc/passwd", "ft:nope:acme::1"])
def test_unknown_or_path_like_model_is_404(shared, shared_file, model):
    response = shared.create_job(model=model, training_file=shared_file)
    assert_error(response, 404, "model", "model_not_found")


def test_missing_training_file_is_400(shared):
    assert_error(shared.create_job(training_file="file-nope"), 400, "training_file")


def test_missing_validation_file_is_400(shared, shared_file):
    response = shared.create_job(training_file=shared_file, validation_file="file-nope")
    assert_error(response, 400, "validation_file")


def test_training_file_of_another_org_is_400_as_if_missing(app):
    theirs = app.file_id(headers=app.as_globex)
    error = assert_error(app.create_job(training_file=theirs), 400, "training_file")
    assert "no such file" in error["message"]


@pytest.mark.parametrize(
    "fields, param",
    [
        ({"suffix": "a:b"}, "suffix"),
        ({"suffix": ""}, "suffix"),
        ({"suffix": "x" * 65}, "suffix"),
        ({"seed": -1}, "seed"),
        ({"hyperparameters": {"foo": 1}}, "hyperparameters.foo"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"foo": 1}}}},
         "method.dpo.hyperparameters.foo"),
        ({"method": {"type": "supervised", "dpo": {}}}, "method.dpo"),
        ({"method": {"type": "telepathy"}}, "method.type"),
        ({"method": {"type": "supervised",
                     "supervised": {"hyperparameters": {"n_epochs": 3}}},
          "hyperparameters": {"n_epochs": 2}}, "hyperparameters.n_epochs"),
        ({"adapter": {"type": "prefix"}}, "adapter.type"),
        ({"metadata": {"team": 1}}, "metadata.team"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)  # fmt: skip
def test_bad_request_field_is_400_naming_it(shared, shared_file, fields, param):
    assert_error(shared.create_job(training_file=shared_file, **fields), 400, param)


def test_reinforcement_without_grader_is_400(shared, shared_file):
    response = shared.create_job(training_file=shared_file, method=reinforcement({}))
    error = assert_error(response, 400, "method.reinforcement.grader")
    assert "grader" in error["message"]


def test_reinforcement_with_a_bad_grader_names_the_grader_field(shared, shared_file):
    method = reinforcement({"grader": {**EXACT, "operation": "is"}})
    response = shared.create_job(training_file=shared_file, method=method)
    assert response.status_code == 400
    assert response.json()["error"]["param"].startswith("method.reinforcement.grader.")


def test_python_grader_is_400_while_python_graders_are_off(shared, shared_file):
    method = reinforcement({"grader": PYTHON})
    response = shared.create_job(training_file=shared_file, method=method)
    error = assert_error(response, 400, "method.reinforcement.grader.type")
    assert "--allow-python-graders" in error["message"]


def test_refused_create_makes_no_job(app):
    app.create_job(suffix="a:b")
    assert app.client.get(JOBS).json()["data"] == []


# ---- list ---------------------------------------------------------------------------------


def test_list_is_newest_first(app):
    file_id = app.file_id()
    ids = [app.job(training_file=file_id)["id"] for _ in range(3)]
    body = app.client.get(JOBS).json()
    assert body["object"] == "list" and body["has_more"] is False
    assert [j["id"] for j in body["data"]] == ids[::-1]


def test_list_pages_with_limit_and_after(app):
    file_id = app.file_id()
    ids = [app.job(training_file=file_id)["id"] for _ in range(3)]
    first = app.client.get(JOBS, params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == [ids[2], ids[1]] and first["has_more"] is True
    rest = app.client.get(JOBS, params={"limit": 2, "after": ids[1]}).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and rest["has_more"] is False


def test_list_filters_on_metadata(app):
    file_id = app.file_id()
    a = app.job(training_file=file_id, metadata={"team": "a", "run": "1"})["id"]
    app.job(training_file=file_id, metadata={"team": "b"})
    app.job(training_file=file_id)
    listed = app.client.get(JOBS, params={"metadata[team]": "a"}).json()["data"]
    assert [j["id"] for j in listed] == [a]
    both = {"metadata[team]": "a", "metadata[run]": "2"}
    assert app.client.get(JOBS, params=both).json()["data"] == []


@pytest.mark.parametrize("key", ['q"k', "a\\b"])
def test_list_filters_on_a_metadata_key_with_json_path_characters(app, key):
    job = app.job(metadata={key: "v"})
    listed = app.client.get(JOBS, params={f"metadata[{key}]": "v"}).json()["data"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_retrieve_returns_the_created_job(app, job):
    response = app.client.get(f"{JOBS}/{job['id']}")
    assert response.status_code == 200 and response.json() == job


def test_unknown_job_is_404(shared):
    response = shared.client.get(f"{JOBS}/ftjob-nope")
    assert_error(response, 404, "fine_tuning_job_id", "fine_tuning_job_not_found")


# ---- cancel, pause, resume --------------------------------------------------------------


def test_cancel_from_validating_files(app, job):
    response = app.client.post(f"{JOBS}/{job['id']}/cancel")
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert job["created_at"] <= cancelled["finished_at"] <= int(time.time())
    assert messages(app, job["id"])[0] == "Job cancelled"
    assert app.client.get(f"{JOBS}/{job['id']}").json()["status"] == "cancelled"


def test_cancelling_twice_is_400(app, job):
    app.client.post(f"{JOBS}/{job['id']}/cancel")
    response = app.client.post(f"{JOBS}/{job['id']}/cancel")
    assert_error(response, 400, "fine_tuning_job_id", "invalid_job_status")


@pytest.mark.parametrize("status", ["running", "paused"])
def test_cancel_from_running_or_paused(app, job, status):
    running(app, job["id"])
    app.jobs.store.transition(job["id"], ["running"], status)
    assert app.client.post(f"{JOBS}/{job['id']}/cancel").json()["status"] == "cancelled"


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_pause_or_resume_from_validating_files_is_400(app, job, action):
    response = app.client.post(f"{JOBS}/{job['id']}/{action}")
    error = assert_error(response, 400, "fine_tuning_job_id", "invalid_job_status")
    assert "validating_files" in error["message"]


def test_pause_of_a_running_job_asks_its_worker(app, job):
    running(app, job["id"])
    response = app.client.post(f"{JOBS}/{job['id']}/pause")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "running"  # paused once its checkpoint is written
    assert app.jobs.store.get_job("acme", job["id"]).requested == "pause"
    assert messages(app, job["id"])[0].startswith("Pause requested")


def test_resume_of_a_running_job_is_400(app, job):
    running(app, job["id"])
    response = app.client.post(f"{JOBS}/{job['id']}/resume")
    assert_error(response, 400, "fine_tuning_job_id", "invalid_job_status")


def test_resume_of_a_paused_job_queues_it(app, job):
    running(app, job["id"])
    app.client.post(f"{JOBS}/{job['id']}/pause")
    app.jobs.store.transition(job["id"], ["running"], "paused")
    response = app.client.post(f"{JOBS}/{job['id']}/resume")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "queued"
    assert app.jobs.store.get_job("acme", job["id"]).requested is None
    assert messages(app, job["id"])[0].startswith("Job resumed")


def test_pause_of_a_paused_job_is_400(app, job):
    running(app, job["id"])
    app.jobs.store.transition(job["id"], ["running"], "paused")
    assert_error(app.client.post(f"{JOBS}/{job['id']}/pause"), 400, "fine_tuning_job_id")


# ---- checkpoints --------------------------------------------------------------------------


def test_checkpoints_of_a_new_job_are_an_empty_list(app, job):
    response = app.client.get(f"{JOBS}/{job['id']}/checkpoints")
    assert response.status_code == 200
    assert response.json() == {
        "object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False,
    }  # fmt: skip


def test_checkpoints_are_openai_checkpoint_objects_newest_first(app, job):
    model = f"ft:{MODEL}:acme::abc"
    store = app.jobs.store
    for step in (10, 20):
        store.add_checkpoint(job["id"], step, {"step": step, "train_loss": 1.5},
                             f"{model}:ckpt-step-{step}", f"/runs/x/step-{step}")  # fmt: skip
    body = app.client.get(f"{JOBS}/{job['id']}/checkpoints").json()
    assert [c["step_number"] for c in body["data"]] == [20, 10]
    newest = body["data"][0]
    assert newest["id"].startswith("ftckpt-")
    assert newest["object"] == "fine_tuning.job.checkpoint"
    assert newest["fine_tuning_job_id"] == job["id"]
    assert newest["metrics"] == {"step": 20, "train_loss": 1.5}
    assert newest["fine_tuned_model_checkpoint"] == f"{model}:ckpt-step-20"
    assert "path" not in newest  # the server's folder stays on the server
    assert (body["first_id"], body["last_id"]) == (newest["id"], body["data"][1]["id"])


# ---- organisations and auth ---------------------------------------------------------------


def test_other_org_gets_404_for_every_route_of_the_job(app, job):
    running(app, job["id"])  # a status where acme could pause or cancel it
    for method, action in JOB_ROUTES:
        path = f"{JOBS}/{job['id']}{action}"
        response = app.client.request(method, path, headers=app.as_globex)
        assert_error(response, 404, "fine_tuning_job_id", "fine_tuning_job_not_found")
    unchanged = app.jobs.store.get_job("acme", job["id"])
    assert (unchanged.status, unchanged.requested) == ("running", None)


def test_other_org_lists_no_jobs(app, job):
    body = app.client.get(JOBS, headers=app.as_globex).json()
    assert body == {"object": "list", "data": [], "has_more": False}
    after = app.client.get(JOBS, params={"after": job["id"]}, headers=app.as_globex).json()
    assert after["data"] == []


def test_every_route_without_authorization_header_is_401(shared):
    anonymous = TestClient(shared.client.app)  # the same app, no default headers
    routes = [("post", JOBS), ("get", JOBS)]
    routes += [(method, f"{JOBS}/ftjob-x{action}") for method, action in JOB_ROUTES]
    for method, path in routes:
        response = anonymous.request(method, path)
        assert_error(response, 401, None, "invalid_api_key")


# ---- the official SDK ---------------------------------------------------------------------


def test_openai_sdk_round_trip(app):
    sdk = openai.OpenAI(
        base_url="http://testserver/v1", api_key=app.acme_key, http_client=app.client,
        max_retries=0,
    )  # fmt: skip
    file = sdk.files.create(file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
    assert file.id.startswith("file-") and file.status == "processed"
    job = sdk.fine_tuning.jobs.create(model=MODEL, training_file=file.id, suffix="sdk")
    assert job.status == "validating_files" and job.user_provided_suffix == "sdk"
    assert sdk.fine_tuning.jobs.retrieve(job.id).id == job.id
    assert [j.id for j in sdk.fine_tuning.jobs.list()] == [job.id]
    # limit=1 makes the SDK follow `after` to the second event
    events = [e.message for e in sdk.fine_tuning.jobs.list_events(job.id, limit=1)]
    assert events[1] == f"Created fine-tuning job: {job.id}" and len(events) == 2
    assert sdk.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.fine_tuning.jobs.cancel(job.id)
    assert refused.value.code == "invalid_job_status"
    with pytest.raises(openai.NotFoundError):
        sdk.fine_tuning.jobs.create(model="no-such-model", training_file=file.id)
