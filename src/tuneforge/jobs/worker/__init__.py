"""The jobs worker: file validation, training subprocesses, progress, take-over."""

from tuneforge.jobs.worker.worker import JobWorker

__all__ = ["JobWorker"]
