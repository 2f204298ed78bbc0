"""What a server (or a training run) lets graders do: run user Python, reach a model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraderSettings:
    allow_python: bool = False
    """Run `python` graders (user code, sandboxed); `tuneforge serve --allow-python-graders`."""
    python_timeout_s: float = 10
    """Wall-clock limit of one python grader call."""
    python_memory_mb: int = 512
    """Address-space limit of the python grader process."""
    score_model_base_url: str | None = None
    """OpenAI-compatible endpoint (".../v1") that `score_model` graders prompt."""
    score_model_api_key: str | None = None
    """Bearer key for that endpoint, if it needs one."""
    score_model_timeout_s: float = 60
    """Limit of one score_model request."""
