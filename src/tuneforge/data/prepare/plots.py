"""The report's histograms: lengths.png (record lengths before and after the length
filter, with its cutoffs) and roles.png (message lengths per role, as written).

Counts are stacked, kept below and removed on top, so the bars' height is the length
distribution before the filter and no colour has to show through another. "Kept" is
what the length filter kept, before deduplication removes duplicates: the plot shows
what the cutoffs did, not the final split sizes. A long tail would squeeze the bulk into
a few bars, so lengths from the 99th percentile on (or from a little past a max cutoff
close to the bulk) share a last bin labelled "≥ N". What is counted where is
`length_histogram`, a pure function tests check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuneforge.config.prepare import LengthBounds, PrepareConfig

BINS = 40
TAIL_PERCENTILE = 99
"""Lengths past this percentile go to the last bin: one record of 100,000 tokens must
not stretch the axis of records that are all under 1,000."""
KEPT, REMOVED, CUTOFF = "#1f77b4", "#ff7f0e", "#222222"


@dataclass(frozen=True)
class LengthHistogram:
    edges: np.ndarray
    """Bin edges, integers; with `clipped_at`, the last bin stands for >= clipped_at."""
    kept: np.ndarray
    """Records per bin the filter kept."""
    removed: np.ndarray
    """Records per bin the filter removed."""
    clipped_at: int | None
    """Lengths at or above this are counted in the last bin (None: nothing clipped)."""
    cutoffs: dict[str, int]
    """The filter's bounds on the total: "min" and/or "max" -> tokens."""


def length_histogram(
    before: np.ndarray, after: np.ndarray, bounds: LengthBounds | None, bins: int = BINS
) -> LengthHistogram:
    """Histogram of `before` (lengths reaching the filter) split into kept (`after`, a
    subset of them) and removed, with the outliers clipped to a last bin. Bins are whole
    tokens wide and one edge falls on the max cutoff when it is drawn (else on the min),
    so no bar mixes the records kept and removed by that cut."""
    before, after = np.asarray(before, np.int64), np.asarray(after, np.int64)
    cutoffs = {}
    if bounds is not None and bounds.min > 0:
        cutoffs["min"] = bounds.min
    if bounds is not None and bounds.max is not None:
        cutoffs["max"] = bounds.max
    longest, bulk = int(before.max()), math.ceil(np.percentile(before, TAIL_PERCENTILE))
    top = bulk
    # A max cutoff within twice the bulk is drawn with some of what it removed; a farther
    # one (4096 tokens for records of ~100) would squeeze the bulk: it falls in the last bin.
    near = "max" in cutoffs and cutoffs["max"] < longest and cutoffs["max"] * 1.1 <= 2 * bulk
    if near:
        top = max(top, math.ceil(cutoffs["max"] * 1.1))
    low = min(int(before.min()), cutoffs.get("min", longest))
    width = max(1, math.ceil((max(top, low + 1) - low) / bins))
    # Records above max are removed: put an edge at max + 1 (else at min, where kept begins).
    edge = cutoffs["max"] + 1 if near else cutoffs.get("min")
    if edge is not None and low < edge <= top:
        low = max(0, low - (width - (edge - low) % width) % width)
    # The first edge at or past `top`; when records reach past the bin after it, all
    # from there on are counted in that one last bin.
    tail = low + width * max(1, math.ceil((top - low) / width))
    if longest >= tail + width:
        clipped_at, end = tail, tail + width
    else:  # nothing far out: the bins run to the longest record
        clipped_at, end = None, low + width * math.ceil((longest + 1 - low) / width)
    edges = np.arange(low, end + 1, width)
    ceiling = clipped_at if clipped_at is not None else end
    total, _ = np.histogram(np.minimum(before, ceiling), edges)
    kept, _ = np.histogram(np.minimum(after, ceiling), edges)
    return LengthHistogram(edges, kept, np.maximum(total - kept, 0), clipped_at, cutoffs)


def write_plots(out_dir: Path, collected, cfg: PrepareConfig) -> list[str]:
    """lengths.png and roles.png in `out_dir`; returns the names written."""
    before = collected.column("tokens_before", np.int64)
    if not len(before):
        return []
    after = collected.column("tokens", np.int64)
    after = after[after >= 0]  # -1: not measured (its byte size settled the bounds)
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    _draw_lengths(ax, length_histogram(before, after, cfg.lengths.get("total")))
    ax.set(xlabel="tokens of text per record", ylabel="records")
    ax.set_title("Record lengths before and after the length filter", loc="left")
    fig.tight_layout()
    fig.savefig(out_dir / "lengths.png", dpi=110)
    plt.close(fig)
    _plot_roles(out_dir / "roles.png", collected, cfg, plt)
    return ["lengths.png", "roles.png"]


def _draw_lengths(ax, hist: LengthHistogram) -> None:
    left, width = hist.edges[:-1], np.diff(hist.edges)
    ax.bar(left, hist.kept, width, align="edge", color=KEPT, edgecolor="white",
           linewidth=0.4, label=f"kept ({hist.kept.sum():,})")  # fmt: skip
    ax.bar(left, hist.removed, width, bottom=hist.kept, align="edge", color=REMOVED,
           edgecolor="white", linewidth=0.4,
           label=f"removed by the length filter ({hist.removed.sum():,})")  # fmt: skip
    _draw_cutoffs(ax, hist)
    _tail_label(ax, hist.edges, hist.clipped_at)
    ax.set_xlim(hist.edges[0] - (hist.edges[1] - hist.edges[0]), hist.edges[-1])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")


def _draw_cutoffs(ax, hist: LengthHistogram) -> None:
    """Each cutoff as a dashed line at the edge where kept and removed records part
    (records above max are removed: the edge after max), named at its top; one in the
    clipped last bin, or past every record, is named in the legend instead."""
    ax.set_ylim(0, max(1, int((hist.kept + hist.removed).max())) * 1.12)  # room for names
    for name, tokens in hist.cutoffs.items():
        at = tokens + 1 if name == "max" else tokens
        if hist.clipped_at is not None and at > hist.clipped_at:
            ax.plot([], [], " ", label=f"{name} cutoff {tokens:,} (in the last bin)")
        elif at > hist.edges[-1]:
            ax.plot([], [], " ", label=f"{name} cutoff {tokens:,} (no record reaches it)")
        else:
            ax.axvline(at, color=CUTOFF, linestyle="--", linewidth=1.2)
            ax.annotate(
                f"{name} {tokens:,}", (at, 1), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", va="top", fontsize="small",
            )  # fmt: skip


def _tail_label(ax, edges: np.ndarray, clipped_at: int | None) -> None:
    """Integer ticks across the unclipped range, and "≥ N" under the last bin."""
    from matplotlib.ticker import MaxNLocator

    end = clipped_at if clipped_at is not None else edges[-1]
    ticks = [t for t in MaxNLocator(nbins=7, integer=True).tick_values(edges[0], end)
             if edges[0] <= t <= end]  # fmt: skip
    labels = [f"{int(t):,}" for t in ticks]
    if clipped_at is not None:
        room = (edges[-1] - edges[0]) / 9  # so no number runs into the "≥ N" label
        ticks = [t for t in ticks if t < edges[-2] - room]
        labels = labels[: len(ticks)]
        ticks.append((edges[-2] + edges[-1]) / 2)
        labels.append(f"≥ {clipped_at:,}")
    ax.set_xticks(ticks, labels)


def _plot_roles(path: Path, collected, cfg: PrepareConfig, plt) -> None:
    """Tokens per message of each role, as written (after every filter), with the
    role's bounds when it has some."""
    roles: dict[str, list[np.ndarray]] = {}
    for chunk in collected.chunks:
        for role, values in chunk.role_tokens.items():
            roles.setdefault(role, []).append(values)
    fig, axes = plt.subplots(1, max(1, len(roles)), figsize=(3.4 * max(1, len(roles)), 3),
                             squeeze=False)  # fmt: skip
    for ax, (role, parts) in zip(axes[0], sorted(roles.items()), strict=False):
        values = np.concatenate(parts)
        hist = length_histogram(values, values, cfg.lengths.get(role), bins=30)  # type: ignore[call-overload]
        ax.bar(hist.edges[:-1], hist.kept, np.diff(hist.edges), align="edge",
               color="tab:green", edgecolor="white", linewidth=0.4)  # fmt: skip
        _draw_cutoffs(ax, hist)
        _tail_label(ax, hist.edges, hist.clipped_at)
        ax.set_xlim(hist.edges[0] - (hist.edges[1] - hist.edges[0]), hist.edges[-1])
        ax.set(title=role, xlabel="tokens per message")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    axes[0][0].set_ylabel("messages")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
