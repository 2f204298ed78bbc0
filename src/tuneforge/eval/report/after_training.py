"""The regression report at the end of training, when the run's config has an `eval:`
section (`tuneforge train`, the quickstart and jobs API jobs, which run `tuneforge train`).

Its inputs are checked before training starts, so a misspelt task file costs seconds, not
a run; the report then goes into RUN/eval/ beside the product it judges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneforge.config import RunConfig
from tuneforge.errors import ConfigError
from tuneforge.log import info


def check_report_inputs(cfg: RunConfig) -> None:
    """Raise what would stop the report from running, before any training."""
    if cfg.eval is None:
        return
    for task in [*cfg.eval.tasks, *cfg.eval.general_tasks]:
        if not Path(task.path).is_file():
            raise ConfigError(f"eval.tasks: {task.label}: {task.path}: no such file")
    if not cfg.eval.tasks and not cfg.data.validation:
        raise ConfigError(
            "eval: no target task: set eval.tasks, or data.validation (a loss task on it "
            "is the default)"
        )


def report_after_training(cfg: RunConfig, log=info) -> dict[str, Any] | None:
    """The report of a finished run against its base, or None when `eval:` is not set."""
    if cfg.eval is None:
        return None
    from tuneforge.eval.report.compare import compare_run
    from tuneforge.eval.report.writing import summary_lines

    run = Path(cfg.output.dir)
    report = compare_run(run, cfg.eval, base=cfg.model.name_or_path, output=run / "eval", log=log)
    for line in summary_lines(report):
        log(line)
    return report
