"""A stand-in for `tuneforge train` in the jobs worker's concurrency test: writes what a
finished run leaves (config, one metrics row, summary, an adapter config) in a moment,
and logs when it started and ended to $FAKE_TRAINER_LOG.

Run as `python fake_trainer.py JOB.yaml [--resume]` in the run directory, as the worker
runs the real trainer; it needs nothing from TuneForge, so it starts in milliseconds.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def main() -> None:
    config, run = Path(sys.argv[1]), Path.cwd()
    log = Path(os.environ["FAKE_TRAINER_LOG"])
    with log.open("a") as handle:
        handle.write(f"start {run.name} {time.time()}\n")
    shutil.copyfile(config, run / "config.yaml")
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    adapter = run / "adapter"
    adapter.mkdir(exist_ok=True)
    base = os.environ["FAKE_TRAINER_BASE"]
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    time.sleep(0.05)
    summary = {"status": "completed", "steps": 1, "total_steps": 1, "train_tokens": 10}
    (run / "summary.json").write_text(json.dumps(summary))
    with log.open("a") as handle:
        handle.write(f"end {run.name} {time.time()}\n")


if __name__ == "__main__":
    main()
