"""report.md and report.png from report.json's content (compare.py builds it).

The plot is one small panel per metric (metrics have no common scale: a perplexity of 20
beside an accuracy of 0.4 would flatten the accuracy), each with the base and tuned
values as bars, their 95% intervals as error bars, and the verdict in the panel's title,
coloured: green improved, red regressed, grey unchanged. What goes in which panel is
decided by `plot_panels`, a pure function tests check without comparing pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERDICT_COLOURS = {"improved": "#2ca02c", "regressed": "#d62728", "unchanged": "#7f7f7f"}
COLUMNS = 4


@dataclass(frozen=True)
class PlotPanel:
    title: str
    verdict: str
    values: tuple[float, float]  # base, tuned
    intervals: tuple[tuple[float, float], tuple[float, float]]


def plot_panels(report: dict[str, Any]) -> list[PlotPanel]:
    """Task metrics first, then general ones, each a panel; a metric without a finite
    value (an overflowing perplexity) is left out of the plot (the table shows it)."""
    panels = []
    for section in ("task", "general"):
        for name, entry in report.get(section, {}).items():
            values = (entry["base"], entry["tuned"])
            if not all(isinstance(v, float | int) and math.isfinite(v) for v in values):
                continue
            base_ci, tuned_ci = entry["base_ci"], entry["tuned_ci"]
            intervals = (_interval(base_ci, values[0]), _interval(tuned_ci, values[1]))
            panels.append(PlotPanel(f"{section}: {name}", entry["verdict"], values, intervals))
    return panels


def _interval(ci: list[float | None], value: float) -> tuple[float, float]:
    low, high = ci
    return (value if low is None else low, value if high is None else high)


def write_plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = plot_panels(report)
    if not panels:
        return
    columns = min(COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows), dpi=110)
    flat = list(axes.flat) if hasattr(axes, "flat") else [axes]
    for ax, panel in zip(flat, panels, strict=False):
        errors = [
            [v - low for v, (low, _) in zip(panel.values, panel.intervals, strict=True)],
            [high - v for v, (_, high) in zip(panel.values, panel.intervals, strict=True)],
        ]
        ax.bar(
            ["base", "tuned"], panel.values, yerr=errors, capsize=4,
            color=["#9ecae1", "#3182bd"], edgecolor="#333333", linewidth=0.6,
        )  # fmt: skip
        ax.set_title(
            f"{panel.title}\n{panel.verdict}", fontsize=9, color=VERDICT_COLOURS[panel.verdict]
        )
        ax.grid(axis="y", alpha=0.3)
    for ax in flat[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_markdown(report: dict[str, Any], path: Path) -> None:
    models = report.get("models", {})
    lines = [
        "# Regression report",
        "",
        f"Base: `{models.get('base')}`; tuned: `{models.get('tuned')}`.",
        "",
        f"Verdicts: {report['rule']}.",
        "",
    ]
    for section, heading in (("task", "Target task"), ("general", "General ability")):
        entries = report.get(section) or {}
        if not entries:
            continue
        lines += [
            f"## {heading}",
            "",
            "| metric | base | tuned | delta | p-value | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for name, e in entries.items():
            lines.append(
                f"| {name} | {_with_ci(e['base'], e['base_ci'])} | "
                f"{_with_ci(e['tuned'], e['tuned_ci'])} | {_number(e['delta'], signed=True)} | "
                f"{_p_value(e['p_value'])} | **{e['verdict']}** |"
            )
        lines.append("")
    lines += ["## Overfitting", "", _overfitting_line(report.get("overfitting") or {}), ""]
    if plot_panels(report):
        lines += ["![base vs tuned](report.png)", ""]
    path.write_text("\n".join(lines))


def _overfitting_line(o: dict[str, Any]) -> str:
    if not o.get("detected"):
        return f"Not detected: {o.get('reason', 'no validation metrics')}."
    where = (
        f"the best checkpoint is `{o['best_checkpoint']}`"
        if o.get("best_checkpoint")
        else f"no checkpoint was kept at step {o['from_step']} (set train.save_every to keep one)"
    )
    return f"**Overfitting from step {o['from_step']}**: {o['reason']}; {where}."


def _p_value(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"


def _with_ci(value: float | None, ci: list[float | None]) -> str:
    if value is None:
        return "n/a"
    low, high = ci
    if low is None or high is None or low == high:
        return _number(value)
    return f"{_number(value)} [{_number(low)}, {_number(high)}]"


def _number(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The verdicts in a few terminal lines: one per metric, then overfitting."""
    lines = []
    for section in ("task", "general"):
        for name, e in (report.get(section) or {}).items():
            lines.append(
                f"{section:7} {name:24} {_number(e['base'])} -> {_number(e['tuned'])} "
                f"(p {_p_value(e['p_value'])}): {e['verdict']}"
            )
    lines.append("overfitting: " + _overfitting_line(report.get("overfitting") or {}))
    return lines
