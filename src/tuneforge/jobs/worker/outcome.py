"""How a job's training ends, recorded: succeeded (model registered, results files,
final checkpoint, the regression report's verdicts when the job asked for one), paused,
or failed with the tail of the trainer's log.

The fine-tuned model is registered, and loaded into the engine, before the job says
`succeeded`, so a client that sees the status can chat with the model at once and its
first token does not wait for the adapter to load; a job cancelled in the meantime has
its registration taken back (the status change is one compare-and-set).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from tuneforge.eval.report.writing import summary_lines
from tuneforge.jobs.blobs import FileBlobs
from tuneforge.jobs.result_csv import write_result_csv
from tuneforge.jobs.store import JobRecord, JobStore
from tuneforge.jobs.worker.process import log_tail
from tuneforge.jobs.worker.progress import JobProgress
from tuneforge.run_dir import RunDir
from tuneforge.serve.registry import Registry, write_entry

log = logging.getLogger("tuneforge.jobs")
Preload = Callable[[str], None]
RESULTS_FILENAME = "step_metrics.csv"
RESULTS_PURPOSE = "fine-tune-results"
REPORT_FILENAME = "eval_report.json"


def record_outcome(
    job: JobRecord,
    exit_code: int | None,
    store: JobStore,
    blobs: FileBlobs,
    registry: Registry,
    progress: JobProgress,
    preload: Preload | None = None,
) -> JobRecord | None:
    """Move a running job to what its trainer's exit means; None when the job had left
    `running` already (cancelled, taken over)."""
    run = progress.run
    summary = run.read_summary() or {}
    status = summary.get("status")
    if exit_code == 0 and status == "completed" and run.weights() is not None:
        return _succeed(job, store, blobs, registry, progress, summary, preload)
    if exit_code == 0 and status == "paused":
        paused = store.transition(job.id, ("running",), "paused", requested=None)
        if paused is not None:
            store.add_event(job.id, f"Job paused at step {summary.get('steps', 0)}")
        return paused
    tail = log_tail(run.root / "train.log")
    ended = "was killed" if exit_code is None or exit_code < 0 else f"exited with {exit_code}"
    message = f"training {ended} (status {status or 'unknown'})" + (f":\n{tail}" if tail else "")
    return fail(store, job, "training_failed", message)


def fail(store: JobStore, job: JobRecord, code: str, message: str) -> JobRecord | None:
    failed = store.transition(
        job.id, ("running", "queued"), "failed", finished_at=int(time.time()),
        estimated_finish=None, error={"code": code, "message": message, "param": None},
    )  # fmt: skip
    if failed is not None:
        store.add_event(job.id, f"Job failed: {message}", level="error")
    return failed


def _succeed(
    job: JobRecord,
    store: JobStore,
    blobs: FileBlobs,
    registry: Registry,
    progress: JobProgress,
    summary: dict,
    preload: Preload | None,
) -> JobRecord | None:
    run = progress.run
    model_id = job.extra["model_id"]
    progress.add_final_checkpoint(int(summary.get("steps", 0)))
    results = [_results_file(store, blobs, job, run)]
    if (report := _report_file(store, blobs, job, run)) is not None:
        results.append(report)
    entry = write_entry(registry.folder, model_id, run.root, int(time.time()), owner=job.org)
    if preload is not None:
        try:
            preload(model_id)
        except Exception as exc:  # the model is trained and saved: a request will say why
            log.warning("could not preload %s: %s", model_id, exc)
            store.add_event(
                job.id, f"The model could not be loaded ahead of its first request: {exc}",
                level="warn",
            )  # fmt: skip
    done = store.transition(
        job.id, ("running",), "succeeded", fine_tuned_model=model_id,
        finished_at=int(time.time()), trained_tokens=summary.get("train_tokens"),
        result_files=results, estimated_finish=None, requested=None,
    )  # fmt: skip
    if done is None:
        entry.unlink(missing_ok=True)
        return None
    store.add_event(job.id, f"New fine-tuned model created: {model_id}")
    store.add_event(job.id, "The job has successfully completed")
    return done


def _results_file(store: JobStore, blobs: FileBlobs, job: JobRecord, run: RunDir) -> str:
    """OpenAI's step_metrics.csv as a file of the job's organisation; its id."""
    path = Path(run.root) / RESULTS_FILENAME
    write_result_csv(run.read_metrics(), path)
    blob, size = blobs.save_bytes(path.read_bytes())
    record = store.create_file(job.org, RESULTS_FILENAME, RESULTS_PURPOSE, size, blob)
    return record.id


def _report_file(store: JobStore, blobs: FileBlobs, job: JobRecord, run: RunDir) -> str | None:
    """The regression report (the job's `eval` extension) as a result file, its verdicts
    as events; None when the job asked for none."""
    path = Path(run.root) / "eval" / "report.json"
    if not path.is_file():
        return None
    report = json.loads(path.read_text())
    for line in summary_lines(report):
        store.add_event(job.id, f"Evaluation: {' '.join(line.split())}")
    blob, size = blobs.save_bytes(path.read_bytes())
    return store.create_file(job.org, REPORT_FILENAME, RESULTS_PURPOSE, size, blob).id
