"""Limits of one `tuneforge serve` process, fixed at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeSettings:
    max_n: int = 8  # choices per request; each one is a batch slot
    max_body_bytes: int = 4 * 1024 * 1024  # checked before any JSON is parsed
    max_tokens_default: int | None = None  # None: whatever the context leaves
    max_stop: int = 4  # OpenAI's limit on stop strings
