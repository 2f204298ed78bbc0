"""loss.png: training, validation and replay loss against optimizer steps, and beside
it, each on its own axes, the metrics a method is judged by (reward accuracy and margin
for the DPO family, accuracy for reward models, mean reward and KL for PPO/GRPO) when the
run logs them. A dashed line marks each step a run was resumed at.

What is drawn where is decided by `panels` and `resume_steps`, pure functions of the
metrics rows, so tests check those choices without comparing pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JUDGED = (  # (metric, label, bounded to [0, 1]); the first MAX_JUDGED found are drawn
    ("reward_accuracy", "reward accuracy", True),
    ("reward_margin", "reward margin", False),
    ("accuracy", "pairwise accuracy", True),
    ("reward_mean", "mean reward", False),
    ("kl", "KL to reference", False),
)
MAX_JUDGED = 2
"""Panels beside the loss: two metrics on one y axis would share a scale they do not
have (an accuracy in [0, 1] next to a margin of 5 flattens the accuracy to a line)."""
FEW_POINTS = 30
"""Series this short get a marker per point, so a 1-step run still shows a point."""


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[int, float]]
    validation: bool = False


@dataclass(frozen=True)
class Panel:
    ylabel: str
    series: list[Series] = field(default_factory=list)
    bounded: bool = False
    """A share in [0, 1] (an accuracy): its y axis is fixed to that range."""


def series(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) of the metric rows that carry `key` (event rows carry no metric)."""
    return [(r["step"], r[key]) for r in rows if "event" not in r and r.get(key) is not None]


def panels(rows: list[dict[str, Any]]) -> list[Panel]:
    """The loss panel, then one panel per judged metric the run logged (train and
    validation curves of that metric on the same axes)."""
    loss = Panel("loss")
    curves = (
        ("train", "loss", False),
        ("validation", "eval_loss", True),
        ("replay (general data)", "replay_loss", False),  # forgetting shows here first
    )
    for label, key, validation in curves:
        if points := series(rows, key):
            loss.series.append(Series(label, points, validation))
    judged = [(key, ylabel, bounded) for key, ylabel, bounded in JUDGED if series(rows, key)]
    drawn = [loss]
    for key, ylabel, bounded in judged[:MAX_JUDGED]:
        panel = Panel(ylabel, [Series("train", series(rows, key))], bounded)
        if points := series(rows, f"eval_{key}"):
            panel.series.append(Series("validation", points, validation=True))
        drawn.append(panel)
    return drawn


def resume_steps(rows: list[dict[str, Any]]) -> list[int]:
    """Steps a run was resumed at (a resume from step 0 is a fresh start: not marked)."""
    return sorted({r["step"] for r in rows if r.get("event") == "resumed" and r["step"] > 0})


def plot_losses(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Write loss.png (through a temporary file, so a reader never sees half a PNG)."""
    import matplotlib.pyplot as plt

    fig = draw(rows, title or path.parent.name)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def draw(rows: list[dict[str, Any]], title: str):
    """The figure: `panels` side by side, each with its own y axis, resume steps marked."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    drawn, resumed = panels(rows), resume_steps(rows)
    fig, axes = plt.subplots(1, len(drawn), figsize=(4.6 * len(drawn) + 1.6, 4), dpi=110)
    axes = [axes] if len(drawn) == 1 else list(axes)
    marked = f"resumed at step{'s' if len(resumed) > 1 else ''} " + ", ".join(map(str, resumed))
    for ax, panel in zip(axes, drawn, strict=True):
        for line in panel.series:
            _draw(ax, line)
        for i, step in enumerate(resumed):  # named once, in the loss panel's legend
            label = marked if ax is axes[0] and i == 0 else None
            ax.axvline(step, color="#555555", linestyle=":", linewidth=1.2, label=label)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(panel.ylabel)
        # Steps are whole numbers. One integer tick is enough: with the default minimum
        # of two, a run logged at a single step gets 1.900, 1.925, ... around it.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if panel.bounded:
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            # An accuracy climbs to the top right, where "best" still tends to put it.
            ax.legend(loc="lower right" if panel.bounded else "best")
    axes[0].set_title(title, loc="left")
    fig.tight_layout()
    return fig


def _draw(ax, line: Series) -> None:
    steps, values = zip(*line.points, strict=True)
    style = {"color": "#d62728", "linestyle": "--"} if line.validation else {"color": "#1f77b4"}
    marker = "o" if line.validation or len(line.points) <= FEW_POINTS else None
    ax.plot(steps, values, label=line.label, marker=marker, markersize=4, linewidth=1.5, **style)
