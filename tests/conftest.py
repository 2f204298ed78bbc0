"""Shared fixtures: a session-wide model cache and the tiny model's tokenizer.

Every test uses the `tiny-random-llama` alias (2 layers, hidden 64, the real SmolLM2
tokenizer and ChatML template), built once into the cache. The cache lives outside the
test's tmp dirs (~/.cache/tuneforge-test, or $TUNEFORGE_TEST_CACHE) so repeated runs skip
the ~10 s build, and never in the user's own tuneforge cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import TINY
from tests.postgres import PostgresCluster


def _test_cache_dir() -> Path:
    if env := os.environ.get("TUNEFORGE_TEST_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tuneforge-test"


@pytest.fixture(scope="session", autouse=True)
def tuneforge_cache():
    """Point TUNEFORGE_CACHE (inherited by CLI subprocesses) at the test cache, offline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUNEFORGE_CACHE", str(_test_cache_dir()))
        patch.setenv("HF_HUB_OFFLINE", "1")  # tests never touch the network
        patch.setenv("TOKENIZERS_PARALLELISM", "false")
        patch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        yield _test_cache_dir()


@pytest.fixture(scope="session")
def tokenizer(tuneforge_cache):
    """The tiny model's tokenizer (SmolLM2 + ChatML); builds the tiny model on first use."""
    from tuneforge.models import load_tokenizer
    from tuneforge.models.registry import ensure_cached

    ensure_cached(TINY, progress=lambda message: None)
    return load_tokenizer(TINY, progress=lambda message: None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL cluster, started once, for the jobs store's tests.
    Missing binaries fail the test in CI (which installs them) and skip it elsewhere."""
    try:
        cluster = PostgresCluster()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
