"""What a user sees: TuneForge's own lines and nothing from the libraries underneath."""

from __future__ import annotations

import importlib.util
import logging
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.helpers import chat_records, tiny_overrides, write_jsonl
from tuneforge.log import quiet_libraries
from tuneforge.train.progress import number

TUNEFORGE = str(Path(sys.executable).parent / "tuneforge")
OURS = re.compile(r"^(trainable parameters: |precision: |step=\d+  )")


@pytest.mark.slow
def test_training_prints_only_our_lines(tmp_path):
    """Prefix tuning makes transformers raise FutureWarnings on every forward pass, and
    importing peft imports bitsandbytes, which logs on some CPUs; none of it may show."""
    train = write_jsonl(tmp_path / "train.jsonl", chat_records(8))
    overrides = [*tiny_overrides(train, tmp_path / "run"), "adapter.type=prefix_tuning"]
    config = tmp_path / "empty.yaml"
    config.write_text("{}\n")
    result = subprocess.run(
        [TUNEFORGE, "train", str(config), *overrides, "train.max_steps=2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and [line for line in lines if not OURS.match(line)] == []


def test_library_warnings_and_logs_are_held_back(monkeypatch):
    monkeypatch.delenv("TUNEFORGE_VERBOSE", raising=False)
    monkeypatch.setattr(sys, "warnoptions", [])
    with warnings.catch_warnings(record=True) as caught:
        quiet_libraries()
        warnings.warn_explicit("old API", FutureWarning, "module.py", 1, module="transformers")
        warnings.warn_explicit("ours", UserWarning, "x.py", 1, module="tuneforge.train.loop")
    assert [str(w.message) for w in caught] == ["ours"]
    ops = logging.getLogger("bitsandbytes.backends.cpu.ops")  # where "Failed to load" is logged
    assert not ops.isEnabledFor(logging.WARNING) and ops.isEnabledFor(logging.ERROR)


def test_peft_imports_bitsandbytes_whenever_it_is_installed():
    """Why log.py lowers bitsandbytes' logger instead of importing it only for QLoRA:
    `import peft` loads it (peft/helpers.py). If this fails, peft stopped doing so."""
    if importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes (the qlora extra) is not installed")
    code = "import sys, peft; print('bitsandbytes' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


@pytest.mark.parametrize(
    ("value", "spec", "shown"),
    [
        (-0.0, ".4g", "0"),
        (-0.00001, ".4f", "0.0000"),
        (-0.5, ".4g", "-0.5"),
        (0.0, ".4f", "0.0000"),
    ],
)
def test_zero_never_shows_a_minus_sign(value, spec, shown):
    assert number(value, spec) == shown
