"""loss.png: training and validation loss against optimizer steps, and beside it the
metric each method is judged by (reward accuracy and margin for the DPO family,
accuracy for reward models, mean reward and KL for PPO/GRPO) when the run logs one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECOND_PANEL = (  # (metric, label), first ones found are drawn
    ("reward_accuracy", "reward accuracy"),
    ("reward_margin", "reward margin"),
    ("accuracy", "pairwise accuracy"),
    ("reward_mean", "mean reward"),
    ("kl", "KL to reference"),
)


def _series(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in rows if r.get(key) is not None]


def plot_losses(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    extra = [(key, label) for key, label in SECOND_PANEL if _series(rows, key)]
    fig, axes = plt.subplots(1, 2 if extra else 1, figsize=(12 if extra else 7, 4), dpi=110)
    ax = axes[0] if extra else axes
    train, valid = _series(rows, "loss"), _series(rows, "eval_loss")
    if train:
        ax.plot(*zip(*train, strict=True), label="train", color="#1f77b4", linewidth=1.5)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation", color="#d62728")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title or path.parent.name)
    ax.grid(alpha=0.3)
    if train or valid:
        ax.legend()
    if extra:
        right = axes[1]
        for key, label in extra[:2]:
            right.plot(*zip(*_series(rows, key), strict=True), label=label, linewidth=1.5)
            if _series(rows, f"eval_{key}"):
                right.plot(*zip(*_series(rows, f"eval_{key}"), strict=True), "o--",
                           label=f"{label} (validation)")  # fmt: skip
        right.set_xlabel("optimizer step")
        right.grid(alpha=0.3)
        right.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
