"""The run directory: a new run never mixes into an old one."""

from __future__ import annotations

import json

import pytest

from tuneforge.errors import TuneForgeError
from tuneforge.run_dir import RunDir


def finished_run(root) -> RunDir:
    run = RunDir(root)
    run.claim(resume=False, overwrite=False)
    run.config.write_text("model: {}\n")
    for step in (1, 2):
        run.append_metrics({"step": step, "loss": 1.0 / step})
    run.write_summary({"status": "completed"})
    run.plot.write_bytes(b"png")
    (run.checkpoints / "step-10").mkdir(parents=True)
    (run.checkpoints / "step-10" / "state.json").write_text("{}")
    (root / "adapter").mkdir()
    (root / "model").mkdir()
    return run


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    finished_run(tmp_path)
    with pytest.raises(TuneForgeError, match="already holds a run; pass --resume"):
        RunDir(tmp_path).claim(resume=False, overwrite=False)
    RunDir(tmp_path).claim(resume=True, overwrite=False)
    assert (tmp_path / "checkpoints" / "step-10").is_dir()  # resume keeps everything


def test_overwrite_removes_every_trace_of_the_old_run(tmp_path):
    """Stale checkpoints would be resumed or outrank the new ones when pruning, and a
    stale adapter/ would be served in place of a new model/."""
    finished_run(tmp_path)
    RunDir(tmp_path).claim(resume=False, overwrite=True)
    assert {p.name for p in tmp_path.iterdir()} == {"config.yaml"}  # rewritten next


def test_metrics_survive_a_torn_last_line_and_truncate_for_resume(tmp_path):
    run = RunDir(tmp_path)
    run.claim(resume=False, overwrite=False)
    for step in (1, 2, 3):
        run.append_metrics({"step": step, "loss": float(step)})
    run.append_metrics({"step": 3, "eval_loss": 0.5})
    with run.metrics.open("a") as handle:
        handle.write('{"step": 4, "lo')  # killed mid-write
    assert [row["step"] for row in run.read_metrics()] == [1, 2, 3, 3]
    run.truncate_metrics(2)
    assert [json.loads(line)["step"] for line in run.metrics.read_text().splitlines()] == [1, 2]


def test_overwrite_deletes_folders_only_of_a_previous_run(tmp_path):
    (tmp_path / "model").mkdir()  # not a run directory: no config.yaml
    RunDir(tmp_path).claim(resume=False, overwrite=True)
    assert (tmp_path / "model").is_dir()
