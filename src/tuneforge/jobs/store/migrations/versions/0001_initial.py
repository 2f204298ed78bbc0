"""The first schema: files, jobs, events, checkpoints.

Written out rather than derived from tables.py, so that later edits of the tables never
change what this revision did; a test checks that the migrated schema equals the tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NullableJSON = sa.JSON(none_as_null=True)


def _seq() -> sa.Column:
    return sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "files",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("blob", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_files"),
        sa.UniqueConstraint("blob", name="uq_files_blob"),
    )
    op.create_index("ix_files_id", "files", ["id"], unique=True)
    op.create_index("ix_files_org_seq", "files", ["org", "seq"])

    op.create_table(
        "jobs",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org", sa.String(255), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("training_file", sa.String(64), nullable=False),
        sa.Column("validation_file", sa.String(64), nullable=True),
        sa.Column("suffix", sa.String(64), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("metadata", NullableJSON, nullable=True),
        sa.Column("method", sa.JSON(), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("fine_tuned_model", sa.String(255), nullable=True),
        sa.Column("trained_tokens", sa.BigInteger(), nullable=True),
        sa.Column("estimated_finish", sa.BigInteger(), nullable=True),
        sa.Column("result_files", sa.JSON(), nullable=False),
        sa.Column("error", NullableJSON, nullable=True),
        sa.Column("run_dir", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=True),
        sa.Column("requested", sa.String(16), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_jobs"),
    )
    op.create_index("ix_jobs_id", "jobs", ["id"], unique=True)
    op.create_index("ix_jobs_org_seq", "jobs", ["org", "seq"])
    op.create_index("ix_jobs_status_seq", "jobs", ["status", "seq"])
    op.create_index("ix_jobs_fine_tuned_model", "jobs", ["fine_tuned_model"])

    op.create_table(
        "events",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", NullableJSON, nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_events_job_id_jobs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_events_id", "events", ["id"], unique=True)
    op.create_index("ix_events_job_seq", "events", ["job_id", "seq"])

    op.create_table(
        "checkpoints",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("step_number", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("fine_tuned_model_checkpoint", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_checkpoints"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_checkpoints_job_id_jobs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_checkpoints_id", "checkpoints", ["id"], unique=True)
    op.create_index("ix_checkpoints_job_seq", "checkpoints", ["job_id", "seq"])
    op.create_index(
        "ix_checkpoints_fine_tuned_model_checkpoint", "checkpoints", ["fine_tuned_model_checkpoint"]
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_table("events")
    op.drop_table("jobs")
    op.drop_table("files")
