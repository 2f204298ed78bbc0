"""The jobs store on SQLite and on a real PostgreSQL: schema, CRUD, isolation, paging,
compare-and-set transitions, and claims that never hand one job to two workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tuneforge.jobs.store import CheckpointRecord, JobRecord, JobStore, open_store
from tuneforge.jobs.store.tables import Base

BLOB = "ab" * 16


def new_job(store: JobStore, org: str = "acme", **fields: Any) -> JobRecord:
    values: dict[str, Any] = {"model": "base", "training_file": "file-x", "seed": 7, **fields}
    return store.create_job(org, **values)


def queued_jobs(store: JobStore, count: int) -> list[str]:
    return [new_job(store, status="queued").id for _ in range(count)]


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in `count` threads released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_migrations_create_exactly_the_tables(store: JobStore, store_url: str):
    assert set(inspect(store.engine).get_table_names()) == {
        "alembic_version", "files", "jobs", "events", "checkpoints",
    }  # fmt: skip
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert diff == []
    assert version == "0001"
    open_store(store_url).close()  # opening a migrated database again is a no-op


def test_stores_opened_at_once_migrate_once(store_url: str):
    stores = in_threads(4, lambda _: open_store(store_url))
    try:
        job = new_job(stores[0])
        assert all(s.get_job("acme", job.id) == job for s in stores)
    finally:
        for opened in stores:
            opened.close()


def test_sqlite_connections_use_wal_and_foreign_keys(store: JobStore):
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_files_crud_and_org_isolation(store: JobStore):
    created = store.create_file("acme", "train.jsonl", "fine-tune", 123, BLOB)
    assert created.id.startswith("file-") and len(created.id) == len("file-") + 24
    assert (created.org, created.bytes, created.status, created.blob) == (
        "acme", 123, "processed", BLOB,
    )  # fmt: skip
    assert store.get_file("acme", created.id) == created
    assert store.get_file("globex", created.id) is None
    assert store.list_files("globex") == ([], False)
    assert store.delete_file("globex", created.id) is None
    assert store.delete_file("acme", created.id) == created
    assert store.get_file("acme", created.id) is None
    assert store.delete_file("acme", created.id) is None


def test_file_pages_follow_insertion_order(store: JobStore):
    ids = [
        store.create_file("acme", f"{i}.jsonl", "fine-tune", i + 1, f"{i:032x}").id
        for i in range(5)
    ]
    store.create_file("globex", "other.jsonl", "fine-tune", 1, "f" * 32)
    newest, more = store.list_files("acme", limit=2)
    assert [f.id for f in newest] == ids[::-1][:2] and more
    rest, more = store.list_files("acme", limit=10, after=newest[-1].id)
    assert [f.id for f in rest] == ids[::-1][2:] and not more
    oldest, more = store.list_files("acme", limit=3, order="asc", after=ids[0])
    assert [f.id for f in oldest] == ids[1:4] and more
    assert store.list_files("acme", purpose="batch") == ([], False)
    assert store.list_files("acme", after="file-unknown") == ([], False)


def test_jobs_create_update_and_filter(store: JobStore):
    job = new_job(store, metadata={"team": "a"}, method={"type": "supervised"})
    assert job.id.startswith("ftjob-") and job.status == "validating_files"
    assert (job.attempts, job.result_files, job.extra, job.error) == (0, [], {}, None)
    other = new_job(store, metadata={"team": "b"})
    new_job(store, org="globex", metadata={"team": "a"})
    assert [j.id for j in store.list_jobs("acme", metadata={"team": "a"})[0]] == [job.id]
    assert [j.id for j in store.list_jobs("acme")[0]] == [other.id, job.id]
    page, more = store.list_jobs("acme", limit=1)
    assert [j.id for j in page] == [other.id] and more
    assert [j.id for j in store.list_jobs("acme", after=other.id)[0]] == [job.id]
    updated = store.update_job(job.id, error={"code": "x", "message": "m", "param": None})
    assert updated.error == {"code": "x", "message": "m", "param": None}
    assert store.get_job("acme", job.id) == updated
    assert store.get_job("globex", job.id) is None
    assert store.get_job(None, job.id) == updated
    with pytest.raises(TypeError, match="unknown job fields"):
        store.update_job(job.id, colour="red")
    with pytest.raises(LookupError):
        store.update_job("ftjob-missing", status="failed")


def test_transition_is_compare_and_set(store: JobStore):
    job = new_job(store, status="queued")
    cancelled = store.transition(job.id, ["queued", "running"], "cancelled", finished_at=5)
    assert cancelled is not None
    assert (cancelled.status, cancelled.finished_at) == ("cancelled", 5)
    # A worker finishing late must not overwrite the cancel.
    assert store.transition(job.id, ["running"], "succeeded") is None
    assert store.get_job(None, job.id).status == "cancelled"
    assert store.transition("ftjob-missing", ["queued"], "running") is None


def test_claim_next_takes_the_oldest_queued_job(store: JobStore):
    new_job(store)  # validating_files: not claimable
    first, second = queued_jobs(store, 2)
    claimed = store.claim_next("worker-1")
    assert claimed is not None
    assert (claimed.id, claimed.status, claimed.worker, claimed.attempts) == (
        first, "running", "worker-1", 1,
    )  # fmt: skip
    assert claimed.started_at is not None
    assert store.claim_next("worker-2").id == second
    assert store.claim_next("worker-3") is None
    # A re-queued job (a worker died) keeps its first start and counts the attempt.
    store.transition(first, ["running"], "queued")
    again = store.claim_next("worker-4")
    assert (again.id, again.attempts, again.started_at) == (first, 2, claimed.started_at)
    assert [j.id for j in store.jobs_with_status(["running"])] == [first, second]


def test_two_workers_never_claim_the_same_job(store: JobStore, store_url: str):
    ids = queued_jobs(store, 20)
    workers = [open_store(store_url), open_store(store_url)]  # separate pools and connections

    def drain(index: int) -> list[str]:
        claimed = []
        while (job := workers[index].claim_next(f"worker-{index}")) is not None:
            claimed.append(job.id)
        return claimed

    try:
        first, second = in_threads(2, drain)
    finally:
        for worker in workers:
            worker.close()
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(ids)


def test_twenty_concurrent_writers_lose_nothing(store: JobStore):
    def write(index: int) -> str:
        upload = store.create_file("acme", f"{index}.jsonl", "fine-tune", 1, f"{index:032x}")
        return new_job(store, training_file=upload.id).id

    job_ids = in_threads(20, write)
    assert len(store.list_files("acme")[0]) == 20
    assert sorted(j.id for j in store.list_jobs("acme", limit=100)[0]) == sorted(job_ids)


def test_events_page_backwards_and_stay_in_their_org(store: JobStore):
    job = new_job(store)
    events = [store.add_event(job.id, f"step {i}") for i in range(5)]
    metrics = store.add_event(job.id, "m", type="metrics", data={"step": 5, "train_loss": 1.5})
    assert metrics.id.startswith("ftevent-") and metrics.data == {"step": 5, "train_loss": 1.5}
    page, more = store.list_events("acme", job.id, limit=2)
    assert [e.id for e in page] == [metrics.id, events[4].id] and more
    older, more = store.list_events("acme", job.id, after=page[-1].id, limit=10)
    assert [e.id for e in older] == [e.id for e in events[3::-1]] and not more
    assert store.list_events("globex", job.id) == ([], False)


def test_checkpoints_and_find_model(store: JobStore):
    job = new_job(store)
    kept = [
        store.add_checkpoint(
            job.id, step, {"train_loss": 1.0 / step}, f"ft:base:acme::{step}", f"/r/{step}"
        )
        for step in (10, 20, 30)
    ]
    page, more = store.list_checkpoints("acme", job.id, limit=2)
    assert [c.step_number for c in page] == [30, 20] and more
    assert store.list_checkpoints("globex", job.id) == ([], False)
    assert store.find_model("acme", "ft:base:acme::20") == kept[1]
    assert store.find_model("globex", "ft:base:acme::20") is None
    assert store.delete_checkpoint(kept[1].id) == kept[1]
    assert store.find_model(None, "ft:base:acme::20") is None
    # A job's model is found only once the job succeeded.
    store.update_job(job.id, fine_tuned_model="ft:base:acme::job")
    assert store.find_model("acme", "ft:base:acme::job") is None
    done = store.update_job(job.id, status="succeeded")
    assert store.find_model("acme", "ft:base:acme::job") == done
    assert isinstance(store.find_model(None, "ft:base:acme::10"), CheckpointRecord)
