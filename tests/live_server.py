"""A real `tuneforge serve` process on 127.0.0.1 for tests: started, waited for, killed.

A separate process, as users run it: a test can SIGKILL it mid-job and start it again
over the same data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import TINY


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def create_key(data_dir: Path, org: str) -> str:
    """A key made by the CLI, as an operator makes one (its last line of output)."""
    result = subprocess.run(
        [sys.executable, "-m", "tuneforge.cli.main", "keys", "create", "--org", org,
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


class LiveServer:
    def __init__(self, data_dir: Path, *args: str):
        self.data_dir, self.args = Path(data_dir), args
        self.port = free_port()
        self.log = self.data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 120) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "tuneforge.cli.main", "serve", "--model", TINY,
            "--dtype", "float32", "--data-dir", str(self.data_dir), "--port", str(self.port),
            *self.args,
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tuneforge serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.base_url}/models", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.kill()
        raise TimeoutError(f"tuneforge serve did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine loses power."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
