"""python graders: user code in a sandboxed process (no network, limits, off by default).

Each case starts a real sandboxed interpreter (~0.1 s); the timeout case takes ~1 s."""

from __future__ import annotations

import socket
import threading

import pytest

from tuneforge.graders import GraderSettings, GraderUnavailable, grade
from tuneforge.graders.python_grader import network_isolation_problem

pytestmark = pytest.mark.skipif(
    network_isolation_problem() is not None,
    reason=f"no network namespace here: {network_isolation_problem()}",
)
ON = GraderSettings(allow_python=True, python_timeout_s=5, python_memory_mb=256)


def python(source: str, output: str = "42", item: dict | None = None, settings=ON):
    return grade({"type": "python", "name": "py", "source": source}, output, item or {}, settings)


def test_grade_sees_sample_and_item_and_its_prints_cannot_forge_the_score():
    source = (
        "def grade(sample, item):\n"
        "    print(1.0)\n"
        "    right = float(sample['output_text'] == item['answer'])\n"
        "    return right / 2 + sample['output_json'] / 100\n"
    )
    result = python(source, "42", {"answer": "42"})
    assert result.error_kind is None, result.error_message
    assert result.reward == pytest.approx(0.5 + 0.42)


def test_off_by_default_with_how_to_enable():
    with pytest.raises(GraderUnavailable, match="--allow-python-graders"):
        python("def grade(s, i): return 1", settings=GraderSettings())


def test_timeout():
    result = python(
        "def grade(s, i):\n    while True: pass\n", settings=GraderSettings(True, 1, 256)
    )
    assert result.error_kind == "python_grader_runtime_error"
    assert "limit" in result.error_message
    assert result.execution_time < 4


def test_memory_blowup_hits_the_limit():
    result = python("def grade(s, i):\n    return len(bytearray(1 << 30))\n")
    assert result.error_kind == "python_grader_runtime_error"
    assert "256 MB memory limit" in result.error_message


def test_no_network_even_to_this_machine():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[bool] = []
    thread = threading.Thread(target=lambda: accepted.append(bool(listener.accept())), daemon=True)
    thread.start()
    source = (
        "import socket\n"
        "def grade(s, i):\n"
        "    try:\n"
        f"        socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    except OSError as exc:\n"
        "        return 0.0\n"
        "    return 1.0\n"
    )
    try:
        result = python(source)
        assert result.error_kind is None, result.error_message
        assert result.reward == 0.0
        # the listener was reachable from outside the sandbox all along
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        thread.join(2)
        assert accepted == [True]
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return float('nan')", "finite number"),
        ("return 'high'", "finite number"),
        ("return True", "finite number"),
        ("raise KeyError('answer')", "KeyError: 'answer'"),
    ],
)
def test_bad_results_are_runtime_errors_with_the_stderr_tail(body, message):
    result = python(f"def grade(s, i):\n    {body}\n")
    assert result.reward == 0.0 and result.error_kind == "python_grader_runtime_error"
    assert message in result.error_message


def test_source_without_grade():
    result = python("x = 1\n")
    assert "defines no function grade" in result.error_message
