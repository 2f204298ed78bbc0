"""Alembic's environment, driven from Python by `tuneforge.jobs.store.database`.

`open_store` hands over an open connection (already holding the migration lock) in
`config.attributes["connection"]`; there is no offline (SQL script) mode and no
alembic.ini, so the installed package migrates itself wherever it runs.
"""

from __future__ import annotations

from alembic import context

from tuneforge.jobs.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the jobs store migrates through tuneforge.jobs.store.database.migrate(), "
        "which passes a connection; the alembic command line is not configured for it"
    )
# render_as_batch: SQLite can only ALTER a table by copying it; batch mode does that.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
