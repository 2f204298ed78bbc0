"""One `tuneforge train` subprocess: started in its own process group, paused with
SIGUSR1, cancelled by killing the group, and never outliving the server by accident.

The trainer runs in a separate process so that the API stays light and a crash of
training (out of memory, a CUDA fault) is the job's failure, never the server's. Three
things keep a trainer from running twice over one run directory:
- it is started with the parent-death signal set to SIGKILL (util-linux `setpriv
  --pdeathsig`, where present): if the server dies, so does its training;
- its process group id and host are written to `trainer.pid` in the run directory, so a
  server taking over the job kills a survivor first (`kill_leftover`);
- the job's status in the store decides which worker runs it (worker.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

PID_FILE = "trainer.pid"
LOG_FILE = "train.log"
KILL_GRACE_S = 10.0  # SIGTERM lets the trainer write its summary; then SIGKILL


def train_command(config: Path, resume: bool) -> list[str]:
    """The command a worker runs: this interpreter's `tuneforge train`."""
    command = [sys.executable, "-m", "tuneforge.cli.main", "train", str(config)]
    return [*command, "--resume"] if resume else command


class TrainingProcess:
    def __init__(self, run_dir: Path, command: list[str]):
        self.run_dir, self.command = Path(run_dir), command
        self.log_path = self.run_dir / LOG_FILE
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
        with open(self.log_path, "ab") as log:
            # start_new_session: its own process group, so a cancel reaches the workers
            # a trainer may fork (data loaders) and no terminal signal reaches it.
            self._process = subprocess.Popen(
                [*prefix, *self.command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.run_dir,
            )
        record = {"host": socket.gethostname(), "pgid": self._process.pid}
        (self.run_dir / PID_FILE).write_text(json.dumps(record))

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def poll(self) -> int | None:
        """The exit code once the trainer has ended, else None."""
        assert self._process is not None, "not started"
        return self._process.poll()

    def pause(self) -> None:
        """Ask for a checkpoint and a clean exit (train/pause.py)."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGUSR1)

    def stop(self, grace_s: float = KILL_GRACE_S) -> int | None:
        """Stop the whole group: SIGTERM (the trainer records 'interrupted'), then SIGKILL."""
        if self._process is None:
            return None
        if self.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self._process.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self._process.wait()
        _signal_group(self.pid, signal.SIGKILL)  # whatever the trainer forked and left
        return self._process.returncode

    def log_tail(self, lines: int = 20, max_chars: int = 4000) -> str:
        return log_tail(self.log_path, lines, max_chars)


def log_tail(path: Path, lines: int = 20, max_chars: int = 4000) -> str:
    """The last lines of a trainer's log, without progress-bar redraws."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            last = deque((line.rstrip() for line in handle), maxlen=lines * 4)
    except OSError:
        return ""
    kept = [line.rsplit("\r", 1)[-1] for line in last if line.strip()]
    return "\n".join(kept[-lines:])[-max_chars:]


def kill_leftover(run_dir: Path, wait_s: float = KILL_GRACE_S) -> bool:
    """Kill a trainer that a previous server process started in `run_dir` and that is
    still alive on this host; True when one was found. Its group id is checked against
    the run directory, so a reused pid is never killed."""
    try:
        record = json.loads((Path(run_dir) / PID_FILE).read_text())
        pgid = int(record["pgid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if record.get("host") != socket.gethostname() or not _runs_in(pgid, Path(run_dir)):
        return False
    _signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while _alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _runs_in(pid: int, run_dir: Path) -> bool:
    """Whether process `pid` is a trainer working in `run_dir` (its cwd)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve() == run_dir.resolve()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent's wait() removes it.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
