"""A server killed mid-job (SIGKILL, no shutdown code) and started again: its trainer died
with it, and the job finishes from its checkpoint with its step numbers continuing; a job
that had no checkpoint yet fails with the reason instead of hanging in `running`."""

from __future__ import annotations

import json
import re
import time

import openai

from tests.helpers import TINY, chat_records, read_metrics
from tests.jobs_client import (
    alive,
    all_events,
    metric_steps,
    upload,
    wait_for,
    wait_for_training,
)
from tests.live_server import LiveServer

RESUMED = re.compile(r"resumes from the checkpoint at step (\d+)")


def trainer_of(live: LiveServer, job_id: str) -> int:
    return json.loads((live.data_dir / "runs" / job_id / "trainer.pid").read_text())["pgid"]


def kill_and_restart(live: LiveServer, trainer: int) -> None:
    live.kill()
    deadline = time.monotonic() + 10  # the trainer's parent-death signal
    while alive(trainer):
        assert time.monotonic() < deadline, "the trainer outlived its server"
        time.sleep(0.1)
    live.start()


def test_a_killed_server_resumes_from_the_checkpoint_or_says_why_it_cannot(tmp_path):
    live = LiveServer(tmp_path / "data", "--no-auth").start()
    client = openai.OpenAI(base_url=live.base_url, api_key="local", max_retries=0)
    try:
        # 96 steps in one epoch: killed after its first step, it has no checkpoint.
        early = client.fine_tuning.jobs.create(
            model=TINY, training_file=upload(client, chat_records(96, seed=9)).id,
            hyperparameters={"n_epochs": 1, "batch_size": 1},
        )  # fmt: skip
        wait_for_training(client, early.id)
        kill_and_restart(live, trainer_of(live, early.id))
        early, _ = wait_for(client, early.id)
        assert early.status == "failed" and early.error.code == "worker_lost"
        assert "first checkpoint" in early.error.message

        # 3 epochs of 12 steps: killed after the first epoch's checkpoint.
        job = client.fine_tuning.jobs.create(
            model=TINY, training_file=upload(client, chat_records(48, seed=10)).id,
            hyperparameters={"n_epochs": 3, "batch_size": 4},
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not client.fine_tuning.jobs.checkpoints.list(job.id).data:
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.1)
        kill_and_restart(live, trainer_of(live, job.id))
        job, _ = wait_for(client, job.id)
        assert job.status == "succeeded", job.error
        events = all_events(client, job.id)
        assert metric_steps(events) == list(range(1, 37)), "steps continue, none repeated"
        # The kill lands after the first checkpoint, or after the second on a fast machine.
        resumed_at = [int(m[1]) for e in events if (m := RESUMED.search(e.message))]
        assert len(resumed_at) == 1 and resumed_at[0] in (12, 24), resumed_at
        rows = read_metrics(live.data_dir / "runs" / job.id)
        assert [r["step"] for r in rows if r.get("event") == "resumed"] == resumed_at
        reply = client.chat.completions.create(
            model=job.fine_tuned_model, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
        assert reply.choices[0].finish_reason in ("stop", "length")
    finally:
        live.stop()
