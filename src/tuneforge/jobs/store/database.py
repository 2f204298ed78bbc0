"""Engines for the jobs store, and the migration that runs whenever a store opens.

SQLite is the embedded default (one file under the data dir); PostgreSQL serves several
workers. Every SQLite connection gets WAL (readers never block the writer), a busy
timeout (a second writer waits instead of failing at once) and foreign keys (off by
default in SQLite). Opening runs `alembic upgrade head` under a lock, so two processes
starting together neither both create the tables nor see a half-made schema: a file lock
beside the SQLite file, or a transaction-scoped advisory lock on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000
# Any 64-bit number unique to this schema: PostgreSQL advisory locks are keyed by integers.
PG_MIGRATION_LOCK = 0x7475_6E65_666F_7267  # "tuneforg"

T = TypeVar("T")


def normalise_url(url: str) -> str:
    """`postgresql://` (and `postgres://`) -> psycopg 3; SQLAlchemy's default is psycopg2."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=8,
            max_overflow=32,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_size=8, max_overflow=32, pool_pre_ping=True)
    raise ValueError(
        f"unsupported jobs database {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///<path> or postgresql://user@host/dbname"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL itself needs a lock another opener may hold.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL's advice
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
            )
        command.upgrade(_alembic_config(connection), "head")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield  # PostgreSQL locks inside the transaction; memory databases are private
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def retry_locked(operation: Callable[[], T], attempts: int = 8) -> T:
    """Run `operation`, again when SQLite says the database is locked.

    busy_timeout makes writers wait for each other, but SQLite gives up without waiting
    when waiting could deadlock (a reader's snapshot that must become a writer), and the
    only remedy then is to roll back and start over, which is what a retry is.
    """
    for attempt in range(attempts):
        try:
            return operation()
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")
