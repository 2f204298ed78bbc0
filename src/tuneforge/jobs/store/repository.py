"""JobStore: every read and write of files, jobs, events and checkpoints.

Each method is one short transaction of its own and returns frozen records
(records.py), so no caller ever holds a session. Reads that take `org` filter on it: a
row of another organisation is simply not found, exactly like a missing one.

Ordering is by `seq` (see tables.py). Lists are OpenAI's cursor pages: `after` is the id
of the last item a client saw, and `has_more` comes from reading one row past `limit`.

Two writes must be atomic across processes and workers:
- `transition` is one `UPDATE ... WHERE id = :id AND status IN (...)`: a cancel and a
  worker's "succeeded" cannot both win.
- `claim_next` on PostgreSQL locks the oldest queued row with `FOR UPDATE SKIP LOCKED`
  (a second worker skips it rather than waiting, then takes the next one); SQLite has no
  row locks, so there it is a compare-and-set `UPDATE ... WHERE seq = :seq AND status =
  'queued'` checked by rowcount, retried on the next candidate when another worker won.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, Select, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tuneforge.jobs.store.database import make_engine, migrate, retry_locked
from tuneforge.jobs.store.records import CheckpointRecord, EventRecord, FileRecord, JobRecord
from tuneforge.jobs.store.rows import (
    check_job_fields,
    checkpoint_record,
    event_record,
    file_record,
    job_attributes,
    job_record,
)
from tuneforge.jobs.store.tables import CheckpointRow, EventRow, FileRow, JobRow

T = TypeVar("T")

_JOB_DEFAULTS: dict[str, Callable[[], Any]] = {
    "status": lambda: "validating_files",
    "method": dict,
    "hyperparameters": dict,
    "result_files": list,
    "extra": dict,
    "attempts": lambda: 0,
}
_REQUIRED_JOB_FIELDS = ("model", "training_file", "seed")
CLAIM_RETRIES = 50


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def _now() -> int:
    return int(time.time())


def open_store(url: str) -> JobStore:
    """Connect to `url` (sqlite:///path or postgresql://...) and migrate it to head."""
    engine = make_engine(url)
    try:
        retry_locked(lambda: migrate(engine))
    except BaseException:
        engine.dispose()
        raise
    return JobStore(engine)


class JobStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def _write(self, operation: Callable[[Session], T]) -> T:
        def attempt() -> T:
            with self._transaction() as session:
                return operation(session)

        return retry_locked(attempt)

    def _read(self, operation: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            return operation(session)

    def _insert(self, row: Any, convert: Callable[[Any], T]) -> T:
        """Add one new row in its own transaction; its record, ids and defaults filled."""

        def insert(session: Session) -> T:
            session.add(row)
            session.flush()
            return convert(row)

        return self._write(insert)

    def _rows_of_job(
        self,
        table: Any,
        convert: Callable[[Any], T],
        org: str,
        job_id: str,
        after: str | None,
        limit: int,
    ) -> tuple[list[T], bool]:
        """A page of a job's events or checkpoints, newest first; `after` is the id of the
        last one seen, and the page holds older ones. None at all for another org's job."""

        def page(session: Session) -> tuple[list[T], bool]:
            query = _of_job(select(table), table.job_id, org, job_id)
            if after is not None:
                cursor = _seq_of(session, table, after, table.job_id == job_id)
                if cursor is None:
                    return [], False
                query = query.where(table.seq < cursor)
            return _page(session, query.order_by(table.seq.desc()), limit, convert)

        return self._read(page)

    # ---- files -------------------------------------------------------------------------

    def create_file(
        self, org: str, filename: str, purpose: str, bytes: int, blob: str
    ) -> FileRecord:
        row = FileRow(
            id=new_id("file"),
            org=org,
            filename=filename,
            purpose=purpose,
            bytes=bytes,
            created_at=_now(),
            status="processed",
            blob=blob,
        )

        return self._insert(row, file_record)

    def get_file(self, org: str, file_id: str) -> FileRecord | None:
        query = select(FileRow).where(FileRow.org == org, FileRow.id == file_id)
        return self._read(lambda s: _maybe(file_record, s.scalars(query).first()))

    def list_files(
        self,
        org: str,
        purpose: str | None = None,
        limit: int = 10000,
        order: str = "desc",
        after: str | None = None,
    ) -> tuple[list[FileRecord], bool]:
        if order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")

        def page(session: Session) -> tuple[list[FileRecord], bool]:
            query = select(FileRow).where(FileRow.org == org)
            if purpose is not None:
                query = query.where(FileRow.purpose == purpose)
            if after is not None:
                cursor = _seq_of(session, FileRow, after, FileRow.org == org)
                if cursor is None:
                    return [], False
                query = query.where(
                    FileRow.seq < cursor if order == "desc" else FileRow.seq > cursor
                )
            query = query.order_by(FileRow.seq.desc() if order == "desc" else FileRow.seq.asc())
            return _page(session, query, limit, file_record)

        return self._read(page)

    def delete_file(self, org: str, file_id: str) -> FileRecord | None:
        def delete(session: Session) -> FileRecord | None:
            query = select(FileRow).where(FileRow.org == org, FileRow.id == file_id)
            row = session.scalars(query).first()
            if row is None:
                return None
            session.delete(row)
            return file_record(row)

        return self._write(delete)

    # ---- jobs --------------------------------------------------------------------------

    def create_job(self, org: str, **fields: Any) -> JobRecord:
        check_job_fields(fields)
        missing = [name for name in _REQUIRED_JOB_FIELDS if name not in fields]
        if missing:
            raise TypeError(f"create_job() is missing {', '.join(missing)}")
        values = {name: make() for name, make in _JOB_DEFAULTS.items()}
        values.update(fields)
        row = JobRow(id=new_id("ftjob"), org=org, created_at=_now(), **job_attributes(values))

        return self._insert(row, job_record)

    def get_job(self, org: str | None, job_id: str) -> JobRecord | None:
        """`org=None` finds a job of any organisation (the worker's view)."""
        query = select(JobRow).where(JobRow.id == job_id)
        if org is not None:
            query = query.where(JobRow.org == org)
        return self._read(lambda s: _maybe(job_record, s.scalars(query).first()))

    def list_jobs(
        self,
        org: str,
        after: str | None = None,
        limit: int = 20,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[list[JobRecord], bool]:
        """Newest first; `metadata` keeps jobs whose metadata holds every given pair.

        The metadata filter runs here, not in SQL: a key is any string up to 64
        characters, and a JSON path built from it would need escaping that SQLite and
        PostgreSQL do differently. An organisation's jobs are few; rows stream in order
        and reading stops one past the page."""
        wanted = dict(metadata or {})

        def matches(row: JobRow) -> bool:
            held = row.meta or {}
            return all(held.get(key) == value for key, value in wanted.items())

        def page(session: Session) -> tuple[list[JobRecord], bool]:
            if limit < 1:
                raise ValueError(f"limit must be at least 1, not {limit}")
            query = select(JobRow).where(JobRow.org == org)
            if after is not None:
                cursor = _seq_of(session, JobRow, after, JobRow.org == org)
                if cursor is None:
                    return [], False
                query = query.where(JobRow.seq < cursor)
            if not wanted:
                return _page(session, query.order_by(JobRow.seq.desc()), limit, job_record)
            found: list[JobRecord] = []
            for row in session.scalars(query.order_by(JobRow.seq.desc()).execution_options(
                yield_per=100
            )):  # fmt: skip
                if matches(row):
                    if len(found) == limit:
                        return found, True
                    found.append(job_record(row))
            return found, False

        return self._read(page)

    def update_job(self, job_id: str, **fields: Any) -> JobRecord:
        """Set fields unconditionally; LookupError when there is no such job."""
        check_job_fields(fields)

        def change(session: Session) -> JobRecord:
            if fields:
                statement = update(JobRow).where(JobRow.id == job_id)
                session.execute(statement.values(**job_attributes(fields)))
            row = session.scalars(select(JobRow).where(JobRow.id == job_id)).first()
            if row is None:
                raise LookupError(f"no fine-tuning job {job_id!r}")
            return job_record(row)

        return self._write(change)

    def transition(
        self, job_id: str, from_statuses: Collection[str], to_status: str, **fields: Any
    ) -> JobRecord | None:
        """Move the job to `to_status` (and set `fields`) only if its status is one of
        `from_statuses`, in one UPDATE; None when it was not (or there is no such job)."""
        check_job_fields(fields)
        if "status" in fields:
            raise TypeError("transition() sets the status from to_status; do not pass status")
        values = job_attributes({**fields, "status": to_status})

        def compare_and_set(session: Session) -> JobRecord | None:
            statement = (
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(list(from_statuses)))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
                return None
            return job_record(session.scalars(select(JobRow).where(JobRow.id == job_id)).one())

        return self._write(compare_and_set)

    def jobs_with_status(self, statuses: Collection[str]) -> list[JobRecord]:
        """Jobs of every organisation in these states, oldest first (a worker's recovery)."""
        query = select(JobRow).where(JobRow.status.in_(list(statuses))).order_by(JobRow.seq)
        return self._read(lambda s: [job_record(row) for row in s.scalars(query)])

    def claim_next(self, worker: str) -> JobRecord | None:
        """Take the oldest queued job for `worker`: running, started_at, attempts + 1."""
        claim = self._claim_locked if self.engine.dialect.name == "postgresql" else self._claim_cas
        return claim(worker)

    def _claim_locked(self, worker: str) -> JobRecord | None:
        def claim(session: Session) -> JobRecord | None:
            query = (
                select(JobRow)
                .where(JobRow.status == "queued")
                .order_by(JobRow.seq)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = session.scalars(query).first()
            if row is None:
                return None
            row.status, row.worker, row.attempts = "running", worker, row.attempts + 1
            row.started_at = row.started_at or _now()
            row.heartbeat_at = _now()
            session.flush()
            return job_record(row)

        return self._write(claim)

    def _claim_cas(self, worker: str) -> JobRecord | None:
        def claim(session: Session) -> JobRecord | None:
            for _ in range(CLAIM_RETRIES):
                oldest = select(JobRow.seq).where(JobRow.status == "queued").order_by(JobRow.seq)
                seq = session.scalars(oldest.limit(1)).first()
                if seq is None:
                    return None
                statement = (
                    update(JobRow)
                    .where(JobRow.seq == seq, JobRow.status == "queued")
                    .values(
                        status="running",
                        worker=worker,
                        attempts=JobRow.attempts + 1,
                        started_at=func.coalesce(JobRow.started_at, _now()),
                        heartbeat_at=_now(),
                    )
                    .execution_options(synchronize_session=False)
                )
                if session.execute(statement).rowcount == 1:  # type: ignore[attr-defined]
                    return _job_at(session, seq)
            return None  # every candidate went to other workers CLAIM_RETRIES times over

        return self._write(claim)

    def claim_validation(self, worker: str) -> JobRecord | None:
        """Take the oldest job whose files nobody is validating yet (validating_files, no
        worker) for `worker`: a compare-and-set on both backends, as validation is short."""

        def claim(session: Session) -> JobRecord | None:
            for _ in range(CLAIM_RETRIES):
                waiting = select(JobRow.seq).where(
                    JobRow.status == "validating_files", JobRow.worker.is_(None)
                )
                seq = session.scalars(waiting.order_by(JobRow.seq).limit(1)).first()
                if seq is None:
                    return None
                statement = (
                    update(JobRow)
                    .where(JobRow.seq == seq, JobRow.worker.is_(None))
                    .values(worker=worker, heartbeat_at=_now())
                    .execution_options(synchronize_session=False)
                )
                if session.execute(statement).rowcount == 1:  # type: ignore[attr-defined]
                    return _job_at(session, seq)
            return None

        return self._write(claim)

    def heartbeat(self, job_id: str, worker: str, **fields: Any) -> JobRecord | None:
        """Record that `worker` still runs the job (and set `fields`); None when the job
        is no longer running there: cancelled, or taken over after this worker went quiet."""
        check_job_fields(fields)
        values = job_attributes({**fields, "heartbeat_at": _now()})

        def beat(session: Session) -> JobRecord | None:
            statement = (
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.worker == worker, JobRow.status == "running")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
                return None
            return job_record(session.scalars(select(JobRow).where(JobRow.id == job_id)).one())

        return self._write(beat)

    def abandoned(self, stale_before: int, worker: str | None = None) -> list[JobRecord]:
        """Jobs validating or running on a worker silent since `stale_before`, and on
        `worker` (a previous process of the server starting now): what is taken over."""
        mine_or_silent = JobRow.heartbeat_at < stale_before
        if worker is not None:
            mine_or_silent = mine_or_silent | (JobRow.worker == worker)
        query = (
            select(JobRow)
            .where(
                JobRow.status.in_(["running", "validating_files"]),
                JobRow.worker.is_not(None),
                mine_or_silent,
            )
            .order_by(JobRow.seq)
        )
        return self._read(lambda s: [job_record(row) for row in s.scalars(query)])

    def last_metrics_step(self, job_id: str) -> int | None:
        """The step of the job's newest `metrics` event: where reporting resumes."""
        query = (
            select(EventRow.data)
            .where(EventRow.job_id == job_id, EventRow.type == "metrics")
            .order_by(EventRow.seq.desc())
            .limit(1)
        )
        data = self._read(lambda s: s.scalars(query).first())
        return int(data["step"]) if isinstance(data, dict) and "step" in data else None

    # ---- events ------------------------------------------------------------------------

    def add_event(
        self,
        job_id: str,
        message: str,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
        row = EventRow(
            id=new_id("ftevent"),
            job_id=job_id,
            created_at=_now(),
            level=level,
            message=message,
            type=type,
            data=data,
        )

        return self._insert(row, event_record)

    def list_events(
        self, org: str, job_id: str, after: str | None = None, limit: int = 20
    ) -> tuple[list[EventRecord], bool]:
        """Newest first; `after` is an event id, and the page holds the events older than it."""
        return self._rows_of_job(EventRow, event_record, org, job_id, after, limit)

    # ---- checkpoints -------------------------------------------------------------------

    def add_checkpoint(
        self,
        job_id: str,
        step_number: int,
        metrics: dict[str, Any],
        fine_tuned_model_checkpoint: str,
        path: str,
    ) -> CheckpointRecord:
        row = CheckpointRow(
            id=new_id("ftckpt"),
            job_id=job_id,
            created_at=_now(),
            step_number=step_number,
            metrics=metrics,
            fine_tuned_model_checkpoint=fine_tuned_model_checkpoint,
            path=path,
        )

        return self._insert(row, checkpoint_record)

    def list_checkpoints(
        self, org: str, job_id: str, after: str | None = None, limit: int = 10
    ) -> tuple[list[CheckpointRecord], bool]:
        return self._rows_of_job(CheckpointRow, checkpoint_record, org, job_id, after, limit)

    def delete_checkpoint(self, checkpoint_id: str) -> CheckpointRecord | None:
        def delete(session: Session) -> CheckpointRecord | None:
            query = select(CheckpointRow).where(CheckpointRow.id == checkpoint_id)
            row = session.scalars(query).first()
            if row is None:
                return None
            session.delete(row)
            return checkpoint_record(row)

        return self._write(delete)

    def find_model(self, org: str | None, model_id: str) -> JobRecord | CheckpointRecord | None:
        """The succeeded job whose fine_tuned_model is `model_id`, or the checkpoint whose
        fine_tuned_model_checkpoint is; `org=None` looks in every organisation."""

        def find(session: Session) -> JobRecord | CheckpointRecord | None:
            jobs = select(JobRow).where(
                JobRow.fine_tuned_model == model_id, JobRow.status == "succeeded"
            )
            if org is not None:
                jobs = jobs.where(JobRow.org == org)
            job = session.scalars(jobs.order_by(JobRow.seq.desc()).limit(1)).first()
            if job is not None:
                return job_record(job)
            checkpoints = select(CheckpointRow).join(JobRow, JobRow.id == CheckpointRow.job_id)
            checkpoints = checkpoints.where(CheckpointRow.fine_tuned_model_checkpoint == model_id)
            if org is not None:
                checkpoints = checkpoints.where(JobRow.org == org)
            checkpoint = session.scalars(checkpoints.order_by(CheckpointRow.seq.desc())).first()
            return _maybe(checkpoint_record, checkpoint)

        return self._read(find)


# ---- helpers ---------------------------------------------------------------------------


def _job_at(session: Session, seq: int) -> JobRecord:
    return job_record(session.scalars(select(JobRow).where(JobRow.seq == seq)).one())


def _maybe(convert: Callable[[Any], T], row: Any) -> T | None:
    return None if row is None else convert(row)


def _page(
    session: Session, query: Select[Any], limit: int, convert: Callable[[Any], T]
) -> tuple[list[T], bool]:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    rows = list(session.scalars(query.limit(limit + 1)))  # one past the page: has_more
    return [convert(row) for row in rows[:limit]], len(rows) > limit


def _seq_of(session: Session, table: Any, public_id: str, scope: ColumnElement[bool]) -> int | None:
    """The position of a cursor id, within the rows the caller may see."""
    seq: int | None = session.scalars(select(table.seq).where(table.id == public_id, scope)).first()
    return seq


def _of_job(query: Select[Any], job_column: Any, org: str, job_id: str) -> Select[Any]:
    """Rows of `job_id`, and none at all unless that job belongs to `org`."""
    return query.join(JobRow, JobRow.id == job_column).where(JobRow.id == job_id, JobRow.org == org)
