"""The regression report: a run's tuned model beside its base, on the target task and on
general ability, with a verdict per metric and the run's own overfitting check.

    report = compare_run("runs/quickstart", ReportConfig(...), output=Path("runs/quickstart/eval"))

Both models come from one load of the base (the tuned adapter attached unmerged; a full
fine-tune loads beside it), score the same examples, and every difference is tested
paired (verdicts.py). report.json's shape, which scripts and the jobs API read:

    {"task":    {METRIC: {"base", "tuned", "delta", "base_ci", "tuned_ci", "p_value", "verdict"}},
     "general": {"kl_to_base": {...}, "perplexity": {...}, ...the same...},
     "overfitting": {"detected", "from_step", "best_checkpoint", ...},
     "thresholds": {...}, "rule": str, "manifest": {...}}

and beside it samples/{base,tuned}/TASK.jsonl with each example's prediction and scores.

A target task's metric is named by itself when one task reports it, and TASK/METRIC when
several do; a general suite's always as TASK/METRIC, beside the built-in probe's names.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from tuneforge.config.eval import EvalConfig, TaskConfig
from tuneforge.config.report import ReportConfig
from tuneforge.errors import ConfigError
from tuneforge.eval.models import ModelSet
from tuneforge.eval.report.general import general_conversations, general_paragraphs
from tuneforge.eval.report.kl_probe import kl_to_base, logits_of
from tuneforge.eval.report.overfitting import detect_overfitting
from tuneforge.eval.report.verdicts import BASE_BY_DEFINITION, Thresholds, compare_metric, kl_entry
from tuneforge.eval.report.writing import write_markdown, write_plot
from tuneforge.eval.run import digest_text, manifest, run_task, write_samples
from tuneforge.eval.task import Metric, TaskScores
from tuneforge.eval.tasks.loss import loss_scores
from tuneforge.log import info
from tuneforge.models.logprobs import direct_head_supported
from tuneforge.run_dir import RunDir

GENERAL_TEXT = "general_text"


def compare_run(
    run: str | Path, cfg: ReportConfig, base: str | None = None, output: Path | None = None,
    log=info,
) -> dict[str, Any]:  # fmt: skip
    """Evaluate the run's product beside `base` (default: the model it started from), write
    report.json, report.md and report.png into `output` (default: RUN/eval), whole or
    not at all, and return report.json's content."""
    run_dir = RunDir(Path(run))
    tasks = cfg.tasks or default_tasks(run_dir)
    models = ModelSet(base, [str(run)], log)
    tuned_id, base_id = str(run), models.base
    thresholds = Thresholds(cfg.alpha, cfg.min_effect, cfg.kl_threshold)
    eval_cfg = EvalConfig(
        model=base_id, adapters=[tuned_id], tasks=[*tasks, *cfg.general_tasks],
        batch_size=cfg.batch_size, seed=cfg.seed,
    )  # fmt: skip

    scores: dict[str, dict[str, TaskScores]] = {base_id: {}, tuned_id: {}}
    templates: dict[str, str] = {}
    for model_id in (base_id, tuned_id):
        with models.use(model_id) as (model, tokenizer):
            templates[model_id] = digest_text(tokenizer.chat_template or "")
            for task in eval_cfg.tasks:
                log(f"eval report: {model_id} on {task.label} ({task.kind})")
                scores[model_id][task.label] = run_task(task, eval_cfg, model, tokenizer)
            if cfg.general_probe:
                log(f"eval report: {model_id} on general text")
                scores[model_id][GENERAL_TEXT] = loss_scores(
                    model, tokenizer, general_paragraphs(), "general text",
                    batch_size=cfg.batch_size,
                )  # fmt: skip

    report: dict[str, Any] = {
        "task": _entries(tasks, scores, base_id, tuned_id, thresholds, cfg.seed),
        "general": _entries(
            cfg.general_tasks, scores, base_id, tuned_id, thresholds, cfg.seed, qualify=True
        ),
    }
    if cfg.general_probe:
        general_text = _compare_tasks(
            {"": scores[base_id][GENERAL_TEXT]}, {"": scores[tuned_id][GENERAL_TEXT]},
            thresholds, cfg.seed, only=("perplexity",),
        )  # fmt: skip
        log("eval report: kl_to_base on general conversations")
        kl = _kl_probe(models, base_id, tuned_id, cfg.batch_size)
        report["general"] = {
            "kl_to_base": kl_entry(kl.metrics["kl_to_base"], thresholds, cfg.seed),
            "perplexity": general_text["perplexity"],
            **report["general"],
        }
    report["overfitting"] = detect_overfitting(run_dir, cfg.overfit_tolerance)
    report["thresholds"] = {
        "alpha": cfg.alpha, "min_effect": cfg.min_effect, "kl_threshold": cfg.kl_threshold,
    }  # fmt: skip
    report["rule"] = thresholds.rule()
    report["models"] = {"base": base_id, "tuned": tuned_id}
    report["manifest"] = manifest(eval_cfg, models, templates)
    samples = {
        (role, task.label): scores[model_id][task.label]
        for role, model_id in (("base", base_id), ("tuned", tuned_id))
        for task in eval_cfg.tasks
    }
    _write(output or run_dir.root / "eval", report, samples, log)
    return report


def default_tasks(run: RunDir) -> list[TaskConfig]:
    """A loss task on the run's validation file: the target task a run always has."""
    validation = (run.read_config().get("data") or {}).get("validation")
    if not validation or not Path(validation).is_file():
        raise ConfigError(
            f"{run.root}: no target task: the run has no data.validation file; "
            "give --task KIND:PATH (or eval.tasks in the training config)"
        )
    return [TaskConfig(kind="loss", path=Path(validation), name="validation")]


def _kl_probe(models: ModelSet, base_id: str, tuned_id: str, batch_size: int) -> TaskScores:
    with models.use(tuned_id) as (tuned, tokenizer):
        tuned_logits = logits_of(tuned, direct_head_supported(tuned, distributed=False))

        def base_logits(batch):
            with models.use(base_id) as (base, _):
                return logits_of(base, direct_head_supported(base, distributed=False))(batch)

        return kl_to_base(
            tuned_logits, base_logits, tokenizer, general_conversations(),
            "general conversations", batch_size=batch_size,
        )  # fmt: skip


def _entries(
    tasks: list[TaskConfig], scores: dict[str, dict[str, TaskScores]], base_id: str,
    tuned_id: str, thresholds: Thresholds, seed: int, qualify: bool = False,
) -> dict[str, Any]:  # fmt: skip
    labels = [t.label for t in tasks]
    return _compare_tasks(
        {label: scores[base_id][label] for label in labels},
        {label: scores[tuned_id][label] for label in labels},
        thresholds, seed, qualify=qualify,
    )  # fmt: skip


def _compare_tasks(
    base: dict[str, TaskScores], tuned: dict[str, TaskScores], thresholds: Thresholds,
    seed: int, only: tuple[str, ...] | None = None, qualify: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """{METRIC or TASK/METRIC: comparison} over the tasks' metrics (see the module doc).
    A metric only the tuned model reports (a win rate against the base, an implicit DPO
    reward) is compared with the value the base has by definition (BASE_BY_DEFINITION)."""
    names = [
        (task, m)
        for task, s in tuned.items()
        for m in s.metrics
        if (not only or m in only) and (m in base[task].metrics or m in BASE_BY_DEFINITION)
    ]
    counts = {m: sum(1 for _, n in names if n == m) for _, m in names}
    entries = {}
    for task, metric in names:
        after = tuned[task].metrics[metric]
        before = base[task].metrics.get(metric) or Metric(
            [BASE_BY_DEFINITION[metric]] * len(after.values), lower_is_better=after.lower_is_better
        )
        name = f"{task}/{metric}" if qualify or counts[metric] > 1 else metric
        entries[name] = compare_metric(before, after, thresholds, seed)
    return entries


def finite(value: Any) -> Any:
    """JSON has no infinity or NaN: an overflowing perplexity is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _write(
    output: Path, report: dict[str, Any], samples: dict[tuple[str, str], TaskScores], log
) -> None:
    """report.json/md/png and samples/{base,tuned}/TASK.jsonl, all or nothing."""
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for (role, task), scores in samples.items():
        write_samples(partial, role, task, scores)
    (partial / "report.json").write_text(json.dumps(finite(report), indent=2) + "\n")
    write_markdown(report, partial / "report.md")
    write_plot(report, partial / "report.png")
    shutil.rmtree(output, ignore_errors=True)
    os.replace(partial, output)
    log(f"eval report: {output / 'report.md'}")
