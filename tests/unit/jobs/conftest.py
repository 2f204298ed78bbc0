"""Stores over SQLite and a real PostgreSQL, and an app serving the Files API.

`store_url` is parametrised over both backends; the PostgreSQL cluster is started once
per session (a second or two) and only when a test asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import PostgresCluster
from tuneforge.jobs.store import JobStore, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database()


@pytest.fixture
def store(store_url) -> Iterator[JobStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()
