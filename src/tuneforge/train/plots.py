"""loss.png: training and validation loss against optimizer steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_losses(rows: list[dict[str, Any]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    valid = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", color="#1f77b4", linewidth=1.5)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation", color="#d62728")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean per trained token)")
    ax.set_title(title or path.parent.name)
    ax.grid(alpha=0.3)
    if train or valid:
        ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
