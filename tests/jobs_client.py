"""What tests of the jobs API do through the official SDK: upload, wait, read events."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import openai

FINAL = ("succeeded", "failed", "cancelled")


def upload(client: openai.OpenAI, records: list, name: str = "train.jsonl"):
    content = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    return client.files.create(file=(name, io.BytesIO(content.encode())), purpose="fine-tune")


def wait_for(client: openai.OpenAI, job_id: str, statuses=FINAL, timeout_s: float = 240):
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        if job.status in statuses:
            return job, seen
        time.sleep(0.3)
    raise TimeoutError(f"{job_id} stayed {seen[-1]!r} (seen {seen})")


def all_events(client: openai.OpenAI, job_id: str) -> list:
    """Every event, oldest first, read in pages of 7 to exercise `after` and `has_more`."""
    events, after = [], openai.NOT_GIVEN
    while True:
        page = client.fine_tuning.jobs.list_events(job_id, limit=7, after=after)
        events += page.data
        if not page.has_more:
            return events[::-1]
        after = page.data[-1].id


def wait_for_training(client: openai.OpenAI, job_id: str, timeout_s: float = 120) -> None:
    """Until the job's first training step is reported."""
    deadline = time.monotonic() + timeout_s
    while not metric_steps(all_events(client, job_id)):
        assert time.monotonic() < deadline, "no training step was reported"
        time.sleep(0.2)


def alive(pid: int) -> bool:
    """Whether the process exists (the worker reaps a trainer it stopped)."""
    return Path(f"/proc/{pid}").exists()


def metric_steps(events: list) -> list[int]:
    return [e.data["step"] for e in events if e.type == "metrics" and "train_loss" in e.data]
