"""The jobs worker inside `tuneforge serve`: validates files, runs queued jobs as
`tuneforge train` subprocesses, reports their progress, and takes over abandoned jobs.

Two threads, each a plain loop over the store, woken early by `wake()` when a client
creates, cancels or pauses a job:
- the validator claims the oldest job in `validating_files` and queues or fails it;
- the runner claims queued jobs (up to `max_running_jobs`), and every `poll_s` follows
  each trainer: progress events and checkpoints, a heartbeat, a pause or cancel a client
  asked for, and the outcome when the trainer exits.

The store is the only shared state, so several servers (or workers) can share one
PostgreSQL database: a claim is one transaction, a status change one compare-and-set.
A worker has a stable name (its host and data directory); at start it takes over the
jobs its previous process left, and later those of any worker silent for `stale_s`: a
job with a checkpoint resumes from it (`--resume`), one without fails with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuneforge.graders import GraderSettings
from tuneforge.jobs.blobs import FileBlobs
from tuneforge.jobs.settings import JobsSettings
from tuneforge.jobs.store import JobRecord, JobStore
from tuneforge.jobs.worker.outcome import Preload, fail, record_outcome
from tuneforge.jobs.worker.process import TrainingProcess, kill_leftover, train_command
from tuneforge.jobs.worker.progress import JobProgress
from tuneforge.jobs.worker.validate_files import JOB_CONFIG, validate_job
from tuneforge.run_dir import RunDir
from tuneforge.serve.registry import Registry

log = logging.getLogger("tuneforge.jobs")

Command = Callable[[Path, bool], list[str]]


@dataclass
class Active:
    """A job whose trainer this worker runs."""

    job: JobRecord
    process: TrainingProcess
    progress: JobProgress
    pause_sent: bool = False
    last_beat: float = 0.0


class JobWorker:
    def __init__(
        self,
        store: JobStore,
        blobs: FileBlobs,
        registry: Registry,
        settings: JobsSettings,
        graders: GraderSettings,
        command: Command = train_command,
        preload: Preload | None = None,
    ):
        """`preload`: the engine's, so a finished job's model is in memory before the job
        says `succeeded`."""
        self.store, self.blobs, self.registry = store, blobs, registry
        self.settings, self.graders, self.command = settings, graders, command
        self.preload = preload
        self.name = settings.worker_name
        self.active: dict[str, Active] = {}
        self._stopping = threading.Event()
        self._wake_validator, self._wake_runner = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_sweep = 0.0

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.take_over(self.store.abandoned(self._stale_before(), worker=self.name))
        for target, name in ((self._validate_loop, "validator"), (self._run_loop, "runner")):
            thread = threading.Thread(target=target, name=f"tuneforge-jobs-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake_validator.set()
        self._wake_runner.set()

    def close(self) -> None:
        """Stop the loops and the trainers. Their jobs stay `running` under this worker's
        name, so the next start of this server resumes them from their checkpoints."""
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    # ---- validation --------------------------------------------------------------------

    def _validate_loop(self) -> None:
        while not self._stopping.is_set():
            job = self._guarded(lambda: self.store.claim_validation(self.name))
            if job is None:
                self._wake_validator.wait(self.settings.poll_s)
                self._wake_validator.clear()
                continue
            self._guarded(lambda job=job: self._validate(job), job)
            self._wake_runner.set()

    def _validate(self, job: JobRecord) -> None:
        settings = {
            "allow_python": self.graders.allow_python,
            "python_timeout_s": self.graders.python_timeout_s,
            "python_memory_mb": self.graders.python_memory_mb,
            "score_model_base_url": self.graders.score_model_base_url,
            "score_model_api_key": self.graders.score_model_api_key,
        }
        validate_job(job, self.store, self.blobs, self.settings.runs_dir, settings)

    # ---- running -----------------------------------------------------------------------

    def _run_loop(self) -> None:
        try:
            while not self._stopping.is_set():
                for active in list(self.active.values()):
                    self._guarded(lambda a=active: self._follow(a), active.job)
                while len(self.active) < self.settings.max_running_jobs:
                    job = self._guarded(lambda: self.store.claim_next(self.name))
                    if job is None:
                        break
                    self._guarded(lambda job=job: self._start(job), job)
                self._sweep()
                self._wake_runner.wait(self.settings.poll_s)
                self._wake_runner.clear()
        finally:
            for active in self.active.values():
                active.process.stop()
            self.active.clear()

    def _start(self, job: JobRecord) -> None:
        assert job.run_dir is not None, "a queued job has its run directory"
        run = RunDir(Path(job.run_dir))
        resume = run.is_run  # an earlier attempt started: continue it
        checkpoint = run.latest_checkpoint() if resume else None
        start_step = checkpoint.step if checkpoint else 0
        process = TrainingProcess(run.root, self.command(run.root / JOB_CONFIG, resume))
        progress = JobProgress(
            job, self.store, self.registry, job.extra["model_id"],
            job.extra.get("total_steps", 0), start_step=start_step,
        )  # fmt: skip
        process.start()
        self.active[job.id] = Active(job, process, progress, last_beat=time.monotonic())
        attempt = f"resuming from the checkpoint at step {start_step}" if checkpoint else "started"
        self.store.add_event(job.id, f"Fine-tuning job {attempt}")

    def _follow(self, active: Active) -> None:
        job = self.store.get_job(None, active.job.id)
        if job is None or job.status != "running" or job.worker != self.name:
            active.process.stop()  # cancelled, or another worker took it over
            del self.active[active.job.id]
            return
        if job.requested == "pause" and not active.pause_sent:
            active.process.pause()
            active.pause_sent = True
        active.progress.poll()
        exit_code = active.process.poll()
        if exit_code is not None:
            del self.active[job.id]
            record_outcome(
                job, exit_code, self.store, self.blobs, self.registry, active.progress,
                self.preload,
            )  # fmt: skip
            return
        if time.monotonic() - active.last_beat >= self.settings.heartbeat_s:
            active.last_beat = time.monotonic()
            finish = active.progress.estimated_finish()
            self.store.heartbeat(job.id, self.name, estimated_finish=finish)

    # ---- taking over -------------------------------------------------------------------

    def _sweep(self) -> None:
        """Now and then, take over the jobs of workers that went silent."""
        if time.monotonic() - self._last_sweep < self.settings.stale_s / 2:
            return
        self._last_sweep = time.monotonic()
        found = self.store.abandoned(self._stale_before())
        self.take_over([job for job in found if job.worker != self.name])

    def take_over(self, jobs: list[JobRecord]) -> None:
        for job in jobs:
            self._guarded(lambda job=job: self._take_over(job), job)

    def _take_over(self, job: JobRecord) -> None:
        if job.status == "validating_files":
            self.store.transition(job.id, ("validating_files",), "validating_files", worker=None)
            return
        run = RunDir(Path(job.run_dir)) if job.run_dir else None
        if run is not None and kill_leftover(run.root):
            log.warning("stopped a trainer left running by a previous process for %s", job.id)
        if run is not None and run.status() == "completed" and run.weights() is not None:
            # It finished as its worker died: record the outcome instead of training again.
            progress = JobProgress(job, self.store, self.registry, job.extra["model_id"], 0)
            progress.poll()
            record_outcome(job, 0, self.store, self.blobs, self.registry, progress, self.preload)
            return
        checkpoint = run.latest_checkpoint() if run is not None else None
        if checkpoint is None:
            fail(
                self.store, job, "worker_lost",
                "the server running this job stopped before its first checkpoint, so "
                "there is nothing to resume; create the job again",
            )  # fmt: skip
            return
        queued = self.store.transition(
            job.id, ("running",), "queued", worker=None, requested=None, heartbeat_at=None
        )
        if queued is not None:
            self.store.add_event(
                job.id,
                f"The server running this job stopped; it resumes from the checkpoint at "
                f"step {checkpoint.step}",
                level="warn",
            )

    # ---- helpers -----------------------------------------------------------------------

    def _stale_before(self) -> int:
        return int(time.time() - self.settings.stale_s)

    def _guarded(self, work, job: JobRecord | None = None):
        """Run one step of a loop; a fault fails that job (never the loop) and is logged."""
        try:
            return work()
        except Exception as exc:
            log.exception("jobs worker: %s", job.id if job else "store")
            if job is not None:
                self._fail_after_fault(job, exc)
            return None

    def _fail_after_fault(self, job: JobRecord, exc: Exception) -> None:
        active = self.active.pop(job.id, None)
        if active is not None:
            active.process.stop()
        message = f"internal error: {type(exc).__name__}: {exc}"
        try:
            moved = self.store.transition(
                job.id, ("validating_files", "queued", "running"), "failed",
                finished_at=int(time.time()),
                error={"code": "internal_error", "message": message, "param": None},
            )  # fmt: skip
            if moved is not None:
                self.store.add_event(job.id, f"Job failed: {message}", level="error")
        except Exception:
            log.exception("jobs worker: could not record the failure of %s", job.id)
