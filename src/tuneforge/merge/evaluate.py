"""`evaluate:` in a merge config: the merged model and every source scored by the same
`tuneforge eval` tasks, in one table that names the best.

Each candidate is evaluated as `tuneforge eval` would evaluate it (the adapters together on
one load of their base, which is scored beside them; each model on its own), into
OUTPUT/evaluation/<n>/results.json. The best is the
candidate with the best value of the first task's first metric: lower for a loss or
perplexity, higher for everything else; the table shows every metric with its interval,
so a win inside the noise is visible as such.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tuneforge.config.eval import EvalConfig
from tuneforge.config.merge import MergeConfig
from tuneforge.log import info
from tuneforge.run_dir import resolve_adapter_dir

LOWER_IS_BETTER = ("loss", "perplexity")


def evaluate_candidates(cfg: MergeConfig, merged: Path, log=info) -> dict[str, Any]:
    """Evaluate, write OUTPUT/evaluation.json and .md, and return the table."""
    from tuneforge.eval.run import evaluate

    assert cfg.evaluate is not None
    candidates = [str(merged), *dict.fromkeys(m.model for m in cfg.models)]
    if cfg.base_model and cfg.base_model not in candidates:
        candidates.append(cfg.base_model)
    adapters = [c for c in candidates if _is_adapter(c)]
    models = [c for c in candidates if c not in adapters]
    results: dict[str, dict[str, Any]] = {}
    # The adapters, and the base they share, on one load of the base; each model alone.
    groups: list[tuple[str | None, list[str]]] = [(None, adapters)] if adapters else []
    groups += [(model, []) for model in models]
    for n, (model, attached) in enumerate(groups):
        if model is not None and model in results:
            continue  # the adapters' base, already evaluated beside them
        eval_cfg = EvalConfig(
            model=model, adapters=attached, tasks=cfg.evaluate.tasks,
            output=merged / "evaluation" / str(n), batch_size=cfg.evaluate.batch_size,
            seed=cfg.seed,
        )  # fmt: skip
        log(f"evaluating {', '.join(attached) if attached else model}")
        for name, entry in evaluate(eval_cfg, log)["models"].items():
            results[name] = entry["tasks"]
    # The merge and its sources first, then the base if it was not named.
    rows = {c: results[c] for c in candidates if c in results}
    rows |= {name: tasks for name, tasks in results.items() if name not in rows}
    table = _table(rows, str(merged))
    (merged / "evaluation.json").write_text(json.dumps(table, indent=2) + "\n")
    (merged / "evaluation.md").write_text(_markdown(table))
    return table


def _table(rows: dict[str, dict[str, Any]], merged: str) -> dict[str, Any]:
    first = next(iter(rows.values()))
    task = next(iter(first))
    metric = next(iter(first[task]["metrics"]))
    lower = any(word in metric for word in LOWER_IS_BETTER)
    scored = {c: r[task]["metrics"][metric] for c, r in rows.items()}
    finite = {c: v for c, v in scored.items() if v is not None}
    best = (min if lower else max)(finite, key=lambda c: finite[c]) if finite else None
    return {"merged": merged, "by": f"{task}/{metric}", "lower_is_better": lower,
            "best": best, "candidates": rows}  # fmt: skip


def _markdown(table: dict[str, Any]) -> str:
    candidates = table["candidates"]
    columns = [(t, m) for t, s in next(iter(candidates.values())).items() for m in s["metrics"]]
    header = "| candidate | " + " | ".join(f"{t}/{m}" for t, m in columns) + " |"
    lines = [
        "# Merge evaluation",
        "",
        f"Best by {table['by']} ({'lower' if table['lower_is_better'] else 'higher'} is "
        f"better): `{table['best']}`",
        "",
        header,
        "|" + "---|" * (len(columns) + 1),
    ]
    for name, tasks in candidates.items():
        cells = []
        for t, m in columns:
            value, (low, high) = tasks[t]["metrics"][m], tasks[t]["ci"][m]
            interval = "" if low is None or high is None else f" [{low:.4g}, {high:.4g}]"
            cells.append("n/a" if value is None else f"{value:.4g}{interval}")
        label = f"**{name}** (merged)" if name == table["merged"] else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _is_adapter(candidate: str) -> bool:
    return Path(candidate).exists() and resolve_adapter_dir(candidate)[1] == "adapter"
