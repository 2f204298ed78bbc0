"""`python` graders: the user's `grade(sample, item) -> float`, in a sandboxed process.

The code is someone else's, so it never runs in the server's process. Each call starts
`python -I` (no user site, no PYTHON* variables) with an empty environment, a fresh
temporary directory as its working directory, rlimits on address space, CPU seconds,
file size and core dumps (set by util-linux `prlimit`: a preexec_fn is unsafe in a
threaded server), a wall-clock timeout that kills its whole process group, and
its own network namespace (`unshare --net --map-root-user`: only a loopback that is down,
so no connection leaves it, not even to this machine). Where the network cannot be cut
(no unshare, user namespaces disabled), python graders are refused: fail closed.

The sample and item go in as JSON on stdin; the score comes back as JSON on stdout (the
user's own prints are sent to stderr so they cannot forge it).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

from tuneforge.graders.outcome import GraderFailure, GraderUnavailable, Outcome
from tuneforge.graders.settings import GraderSettings

_RUNNER = """
import json, sys
request = json.load(sys.stdin)
result_stream, sys.stdout = sys.stdout, sys.stderr
namespace = {"__name__": "grader"}
exec(compile(request["source"], "<grader>", "exec"), namespace)
if not callable(namespace.get("grade")):
    raise SystemExit("the source defines no function grade(sample, item)")
score = namespace["grade"](request["sample"], request["item"])
result_stream.write(json.dumps(score))
"""
_STDERR_TAIL = 2000
_MAX_OUTPUT_BYTES = 1 << 20


def check_python_available(settings: GraderSettings) -> None:
    if not settings.allow_python:
        raise GraderUnavailable(
            "python graders run user code and are off on this server; start it with "
            "`tuneforge serve --allow-python-graders` (or set allow_python in the grader "
            "settings) to run them in a sandbox without network",
            param="type",
        )
    problem = network_isolation_problem()
    if problem:
        raise GraderUnavailable(
            f"python graders are refused: their network cannot be cut off here ({problem})",
            param="type",
        )


@functools.cache
def network_isolation_problem() -> str | None:
    """None when a process started the sandbox's way sees no network interface but a
    loopback, else why not."""
    missing = [tool for tool in ("prlimit", "unshare") if shutil.which(tool) is None]
    if missing:
        return f"util-linux {' and '.join(missing)} not installed"
    probe = "import socket; print(sorted(n for _, n in socket.if_nameindex()))"
    try:
        done = subprocess.run(
            [*_sandbox(GraderSettings()), "-c", probe], capture_output=True, text=True,
            timeout=30, env={},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if done.returncode != 0:
        return f"unshare failed: {done.stderr.strip()[-300:]}"
    if done.stdout.strip() != "['lo']":
        return f"the new namespace still has interfaces {done.stdout.strip()}"
    return None


def _sandbox(settings: GraderSettings) -> list[str]:
    """The command line of a sandboxed `python -I`."""
    memory = settings.python_memory_mb * 1024 * 1024
    cpu = math.ceil(settings.python_timeout_s) + 1
    # No --nproc: RLIMIT_NPROC counts every process of the user across the machine (and
    # root ignores it); the process group is killed when the call ends instead.
    limits = [f"--as={memory}", f"--cpu={cpu}", f"--fsize={64 << 20}", "--core=0"]
    unshare = [shutil.which("unshare") or "unshare", "--net", "--map-root-user"]
    return [shutil.which("prlimit") or "prlimit", *limits, "--", *unshare, sys.executable, "-I"]


def grade_python(
    grader: Any, sample: dict[str, Any], item: dict[str, Any], settings: GraderSettings
) -> Outcome:
    check_python_available(settings)
    request = json.dumps({"source": grader.source, "sample": sample, "item": item})
    with tempfile.TemporaryDirectory(prefix="tuneforge-grader-") as workdir:
        process = subprocess.Popen(
            [*_sandbox(settings), "-c", _RUNNER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=workdir, env={}, start_new_session=True,
        )  # fmt: skip
        try:
            stdout, stderr = process.communicate(request.encode(), settings.python_timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise GraderFailure(
                "python_grader_runtime_error",
                f"the grader ran past its {settings.python_timeout_s:g} s limit",
            ) from None
        finally:
            _kill_group(process)  # children it left behind
    return Outcome(_score(process.returncode, stdout, stderr, settings))


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _score(returncode: int, stdout: bytes, stderr: bytes, settings: GraderSettings) -> float:
    tail = stderr[-_STDERR_TAIL:].decode(errors="replace").strip()
    if returncode != 0:
        if returncode == -signal.SIGXCPU or returncode == -signal.SIGKILL:
            reason = f"it was killed (signal {-returncode}) after its CPU-time limit"
        elif "MemoryError" in tail:
            reason = f"it ran out of its {settings.python_memory_mb} MB memory limit"
        else:
            reason = f"it exited with status {returncode}"
        raise GraderFailure("python_grader_runtime_error", f"grade() failed: {reason}\n{tail}")
    try:
        value = json.loads(stdout[:_MAX_OUTPUT_BYTES])
    except ValueError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        shown = stdout[:200].decode(errors="replace")
        raise GraderFailure(
            "python_grader_runtime_error",
            f"grade() must return a finite number, got {shown or 'nothing'}\n{tail}",
        )
    return float(value)
