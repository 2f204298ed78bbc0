"""A throw-away PostgreSQL cluster for tests: initdb + pg_ctl in a temporary directory.

PostgreSQL refuses to run as root, and CI runs as root, so there the cluster belongs to a
system user (`tuneforge-pg`, created if missing) and its commands run through `runuser`.
It listens on a unix socket in its own directory only (no TCP port to collide with),
with trust auth, and fsync off: it lives for one test session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

PG_USER = "tuneforge-pg"
MISSING = (
    "PostgreSQL binaries (initdb, pg_ctl) were not found on PATH or in "
    "/usr/lib/postgresql/*/bin; .ci/run installs Debian's postgresql package"
)


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4])
    )
    return candidates[-1] if candidates else None


class PostgresCluster:
    def __init__(self) -> None:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError(MISSING)
        self.initdb, self.pg_ctl = initdb, pg_ctl
        # Not under pytest's tmp dir: that is 0700 root, which the cluster's user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="tf-pg-"))
        self.data, self.socket_dir = self.root / "data", self.root
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            _ensure_user(PG_USER)
            shutil.chown(self.root, PG_USER, PG_USER)
            self._prefix = ["runuser", "-u", PG_USER, "--"]

    def start(self) -> None:
        self._run(
            self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        options = f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c max_connections=200"
        log = self.root / "server.log"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy-style URL (postgresql://, as users write)."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@/{name}?host={self.socket_dir}"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._prefix, *command], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )


def _ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
