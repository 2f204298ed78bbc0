"""The fine-tuning jobs API end to end: a live `tuneforge serve` on 127.0.0.1 with the tiny
model, driven by the official `openai` SDK exactly as code written for OpenAI drives it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from tests.helpers import TINY, chat_records, read_metrics
from tests.jobs_client import (
    FINAL,
    alive,
    all_events,
    metric_steps,
    upload,
    wait_for,
    wait_for_training,
)
from tests.live_server import LiveServer, create_key

PROMPT = [{"role": "user", "content": "The cat sat."}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("jobs-server")
    keys = {org: create_key(data_dir, org) for org in ("acme", "globex")}
    live = LiveServer(data_dir).start()
    yield live, keys
    live.stop()


@pytest.fixture(scope="module")
def acme(server) -> openai.OpenAI:
    live, keys = server
    return openai.OpenAI(base_url=live.base_url, api_key=keys["acme"], max_retries=0)


@pytest.fixture(scope="module")
def globex(server) -> openai.OpenAI:
    live, keys = server
    return openai.OpenAI(base_url=live.base_url, api_key=keys["globex"], max_retries=0)


def generate_cli(run_dir: Path, max_new_tokens: int) -> str:
    """`tuneforge generate` on the job's run, greedy: what a user would compare with."""
    result = subprocess.run(
        [sys.executable, "-m", "tuneforge.cli.main", "generate", "--adapter", str(run_dir),
         "--prompt", PROMPT[0]["content"], "--max-new-tokens", str(max_new_tokens)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.rstrip("\n")


def assert_served_like_generate(client: openai.OpenAI, live: LiveServer, job) -> None:
    """The job's model answers through chat completions, streamed and not, exactly as
    `tuneforge generate` answers on the job's run (greedy)."""
    reply = client.chat.completions.create(
        model=job.fine_tuned_model, messages=PROMPT, temperature=0, max_tokens=8
    )
    text = reply.choices[0].message.content
    stream = client.chat.completions.create(
        model=job.fine_tuned_model, messages=PROMPT, temperature=0, max_tokens=8, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text
    assert text.strip() == generate_cli(live.data_dir / "runs" / job.id, 8).strip()


def test_supervised_job_end_to_end(server, acme):
    live, _ = server
    train = upload(acme, chat_records(24, seed=1))
    valid = upload(acme, chat_records(12, seed=2), "valid.jsonl")
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=train.id, validation_file=valid.id, suffix="e2e",
        metadata={"team": "search"},
        method={"type": "supervised",
                "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}},
    )  # fmt: skip
    assert (
        job.status == "validating_files" and job.hyperparameters.learning_rate_multiplier == "auto"
    )
    job, seen = wait_for(acme, job.id)
    assert job.status == "succeeded", job.error
    assert seen[-1] == "succeeded" and "running" in seen
    assert job.fine_tuned_model.startswith(f"ft:{TINY}:acme:e2e:")
    assert job.trained_tokens > 0 and job.finished_at >= job.created_at
    assert job.hyperparameters.batch_size == 4 and job.hyperparameters.learning_rate_multiplier == 1
    assert acme.fine_tuning.jobs.list(metadata={"team": "search"}).data[0].id == job.id

    events = all_events(acme, job.id)
    messages = [e.message for e in events]
    assert messages[0] == f"Created fine-tuning job: {job.id}"
    assert "Files validated, moving job to queued state" in messages
    assert messages[-1] == "The job has successfully completed"
    assert metric_steps(events) == list(range(1, 13))  # 2 epochs of 6 steps, one row each
    assert "Step 12/12: training loss=" in messages[-4] or any("Step 12/12" in m for m in messages)
    validation = [e.data for e in events if e.type == "metrics" and "valid_loss" in e.data]
    assert [v["step"] for v in validation] == [6, 12]

    checkpoints = acme.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [12, 6]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-12"
    assert checkpoints[1].metrics.valid_loss is not None

    models = {m.id for m in acme.models.list()}
    assert {job.fine_tuned_model, checkpoints[1].fine_tuned_model_checkpoint} <= models
    assert_served_like_generate(acme, live, job)
    acme.chat.completions.create(
        model=checkpoints[1].fine_tuned_model_checkpoint, messages=PROMPT, max_tokens=2
    )

    (result,) = job.result_files
    csv = acme.files.content(result).text.splitlines()
    assert csv[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(csv) == 13


def test_other_organisations_see_nothing(acme, globex):
    train = upload(acme, chat_records(12, seed=3))
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=train.id, hyperparameters={"n_epochs": 1}
    )
    job, _ = wait_for(acme, job.id)
    assert job.status == "succeeded", job.error
    jobs = globex.fine_tuning.jobs
    for call in (
        lambda: jobs.retrieve(job.id),
        lambda: jobs.list_events(job.id),
        lambda: jobs.checkpoints.list(job.id),
        lambda: jobs.cancel(job.id),
        lambda: jobs.pause(job.id),
        lambda: jobs.resume(job.id),
        lambda: globex.files.retrieve(train.id),
        lambda: globex.files.content(train.id),
        lambda: globex.files.delete(train.id),
        lambda: globex.models.retrieve(job.fine_tuned_model),
        lambda: globex.chat.completions.create(model=job.fine_tuned_model, messages=PROMPT),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    with pytest.raises(openai.BadRequestError):  # another org's file cannot be trained on
        jobs.create(model=TINY, training_file=train.id)
    assert job.id not in {j.id for j in jobs.list()}
    assert job.fine_tuned_model not in {m.id for m in globex.models.list()}
    assert train.id not in {f.id for f in globex.files.list()}


def test_dpo_job_reports_reward_accuracy(server, acme):
    rng = random.Random(5)
    words = "the cat dog sat on a mat red blue green".split()
    pairs = [
        {"input": {"messages": [{"role": "user", "content": " ".join(rng.choices(words, k=4))}]},
         "preferred_output": [{"role": "assistant", "content": "yes " * rng.randint(1, 4)}],
         "non_preferred_output": [{"role": "assistant", "content": "no " * rng.randint(1, 4)}]}
        for _ in range(12)
    ]  # fmt: skip
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=upload(acme, pairs).id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1, "beta": 0.2}}},
    )  # fmt: skip
    job, _ = wait_for(acme, job.id)
    assert job.status == "succeeded", job.error
    assert job.method.dpo.hyperparameters.beta == 0.2
    metrics = [e.data for e in all_events(acme, job.id) if e.type == "metrics"]
    assert metrics and all("train_reward_accuracy" in m for m in metrics)
    assert_served_like_generate(acme, server[0], job)


def test_reinforcement_job_with_a_string_check_grader(server, acme):
    prompts = [
        {"messages": [{"role": "user", "content": f"Say yes, number {i}."}],
         "reference_answer": "yes"}
        for i in range(12)
    ]  # fmt: skip
    grader = {
        "type": "string_check", "name": "says_yes", "operation": "ilike",
        "input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}",
    }  # fmt: skip
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=upload(acme, prompts).id,
        method={"type": "reinforcement", "reinforcement": {
            "grader": grader,
            "hyperparameters": {"n_epochs": 1, "batch_size": 4, "compute_multiplier": 0.5}}},
    )  # fmt: skip
    job, _ = wait_for(acme, job.id)
    assert job.status == "succeeded", job.error
    metrics = [e.data for e in all_events(acme, job.id) if e.type == "metrics"]
    assert metrics and all("train_reward_mean" in m for m in metrics)
    assert_served_like_generate(acme, server[0], job)


def test_a_job_with_eval_reports_base_against_tuned(acme):
    """TuneForge's `eval` extension: the report runs when training ends, its verdicts are
    events and its report.json a result file the SDK downloads."""
    held_out = upload(acme, chat_records(6, seed=12), "held_out.jsonl")
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=upload(acme, chat_records(12, seed=11)).id,
        hyperparameters={"n_epochs": 1, "batch_size": 4},
        extra_body={"eval": {"tasks": [{"kind": "loss", "file": held_out.id}],
                             "general_probe": False}},
    )  # fmt: skip
    job, _ = wait_for(acme, job.id)
    assert job.status == "succeeded", job.error
    assert len(job.result_files) == 2
    names = {acme.files.retrieve(f).filename: f for f in job.result_files}
    report = json.loads(acme.files.content(names["eval_report.json"]).text)
    assert set(report["task"]) == {"loss", "perplexity", "token_accuracy"}
    verdicts = [e.message for e in all_events(acme, job.id) if e.message.startswith("Evaluation")]
    assert len(verdicts) == 4 and all(
        v.endswith(("improved", "unchanged", "regressed")) for v in verdicts[:3]
    )


def test_a_bad_eval_extension_is_refused_when_the_job_is_created(acme):
    train = upload(acme, chat_records(12, seed=11)).id
    for body, param in (
        ({"tasks": [{"kind": "loss", "file": "file-nothing"}]}, "eval.tasks.0.file"),
        ({"tasks": [{"kind": "loss", "path": "/etc/passwd"}]}, "eval.tasks.0.path"),
        ({}, "eval"),  # no task and no validation file to default to
        ({"tasks": [{"kind": "lose", "file": train}]}, "eval.tasks.0.kind"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            acme.fine_tuning.jobs.create(model=TINY, training_file=train, extra_body={"eval": body})
        assert refused.value.body["param"] == param, refused.value.body


def test_a_faulty_file_fails_its_job_with_line_and_field(acme):
    records = chat_records(12, seed=6)
    records[2]["messages"][0]["role"] = "robot"
    records[4] = {"messages": [{"role": "user", "content": "hi"}]}
    records[7] = "{not json"
    job = acme.fine_tuning.jobs.create(model=TINY, training_file=upload(acme, records).id)
    job, seen = wait_for(acme, job.id)
    assert job.status == "failed" and "running" not in seen
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert job.error.message.startswith("file train.jsonl line 3 field messages[0].role")
    (listing,) = [e for e in all_events(acme, job.id) if e.level == "error" and "\n" in e.message]
    assert "line 3" in listing.message and "line 5" in listing.message
    assert "line 8" in listing.message


def test_cancel_stops_a_running_job(server, acme):
    live, _ = server
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=upload(acme, chat_records(96, seed=7)).id,
        hyperparameters={"n_epochs": 20, "batch_size": 4},
    )  # fmt: skip
    wait_for_training(acme, job.id)
    cancelled = acme.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    trainer = json.loads((live.data_dir / "runs" / job.id / "trainer.pid").read_text())["pgid"]
    deadline = time.monotonic() + 30  # the worker stops the trainer at its next poll
    while alive(trainer):
        assert time.monotonic() < deadline, "the trainer kept running"
        time.sleep(0.2)
    job = acme.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "cancelled" and job.fine_tuned_model is None
    assert max(metric_steps(all_events(acme, job.id))) < 480
    with pytest.raises(openai.BadRequestError):
        acme.fine_tuning.jobs.cancel(job.id)


def test_pause_then_resume_continues_the_steps(server, acme):
    live, _ = server
    job = acme.fine_tuning.jobs.create(
        model=TINY, training_file=upload(acme, chat_records(48, seed=8)).id,
        hyperparameters={"n_epochs": 3, "batch_size": 4},
    )  # fmt: skip
    wait_for_training(acme, job.id)
    acme.fine_tuning.jobs.pause(job.id)
    job, _ = wait_for(acme, job.id, ("paused", *FINAL))
    assert job.status == "paused"
    paused_at = max(metric_steps(all_events(acme, job.id)))
    acme.fine_tuning.jobs.resume(job.id)
    job, _ = wait_for(acme, job.id)
    assert job.status == "succeeded", job.error
    events = all_events(acme, job.id)
    assert metric_steps(events) == list(range(1, 37))
    assert any("resuming from the checkpoint" in e.message for e in events)
    rows = read_metrics(live.data_dir / "runs" / job.id)
    assert any(r.get("event") == "resumed" and r["step"] <= paused_at for r in rows)
