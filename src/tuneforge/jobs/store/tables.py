"""The four tables, as SQLAlchemy 2 typed declarative classes.

Every table orders by `seq`, an autoincrement integer: `created_at` has one-second
resolution, so two rows of the same second would otherwise come back in any order and
cursors (`after=<id>`) would skip or repeat rows. The public string id is unique and
indexed; foreign keys point at it so a row can be found from what clients send.

JSON columns use SQLAlchemy's portable `JSON` (TEXT on SQLite, json on PostgreSQL);
nullable ones store SQL NULL for None (`none_as_null`) so "IS NULL" means what it says.
The migration in migrations/versions/ must create exactly this schema: a test compares
the migrated database with this metadata.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NullableJSON = JSON(none_as_null=True)


# Named constraints: the migration names them the same way, so Alembic's comparison of
# database and metadata (and any later ALTER) has stable names on both backends.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FileRow(Base):
    __tablename__ = "files"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    org: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    blob: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_files_org_seq", "org", "seq"),)


class JobRow(Base):
    __tablename__ = "jobs"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    org: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(Text)
    training_file: Mapped[str] = mapped_column(String(64))
    validation_file: Mapped[str | None] = mapped_column(String(64))
    suffix: Mapped[str | None] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    # `metadata` is taken by DeclarativeBase; the column keeps OpenAI's name.
    meta: Mapped[dict[str, str] | None] = mapped_column("metadata", NullableJSON)
    method: Mapped[dict[str, Any]] = mapped_column(JSON)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)
    fine_tuned_model: Mapped[str | None] = mapped_column(String(255), index=True)
    trained_tokens: Mapped[int | None] = mapped_column(BigInteger)
    estimated_finish: Mapped[int | None] = mapped_column(BigInteger)
    result_files: Mapped[list[str]] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    run_dir: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[int | None] = mapped_column(BigInteger)
    requested: Mapped[str | None] = mapped_column(String(16))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_jobs_org_seq", "org", "seq"),
        Index("ix_jobs_status_seq", "status", "seq"),
    )


class EventRow(Base):
    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)

    __table_args__ = (Index("ix_events_job_seq", "job_id", "seq"),)


class CheckpointRow(Base):
    __tablename__ = "checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    step_number: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    fine_tuned_model_checkpoint: Mapped[str] = mapped_column(String(255), index=True)
    path: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_checkpoints_job_seq", "job_id", "seq"),)
