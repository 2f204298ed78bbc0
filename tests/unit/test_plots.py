"""What the plots draw where, checked on the data choices rather than on pixels:
loss.png gives each judged metric its own axes and marks resume points; lengths.png
splits the lengths before the length filter into kept and removed, draws the cutoffs
on bin edges and clips outliers into a labelled last bin."""

from __future__ import annotations

import numpy as np
import pytest

from tuneforge.config.prepare import LengthBounds
from tuneforge.data.prepare.plots import length_histogram
from tuneforge.train.plots import draw, panels, plot_losses, resume_steps, series


def dpo_rows() -> list[dict]:
    rows: list[dict] = []
    for step in range(1, 7):
        rows.append({"step": step, "loss": 0.7 - step / 20, "reward_accuracy": step / 6,
                     "reward_margin": step * 1.5, "kl": 0.01 * step})  # fmt: skip
        if step % 3 == 0:
            rows.append({"step": step, "eval_loss": 0.6, "eval_reward_accuracy": 0.5,
                         "eval_reward_margin": 2.0})  # fmt: skip
    rows.insert(6, {"event": "resumed", "step": 3, "changed": {"train.log_every": [1, 2]}})
    return rows


def layout(drawn) -> list[tuple[str, list[str]]]:
    return [(panel.ylabel, [line.label for line in panel.series]) for panel in drawn]


def test_reward_accuracy_and_margin_get_axes_of_their_own():
    drawn = panels(dpo_rows())
    assert layout(drawn) == [
        ("loss", ["train", "validation"]),
        ("reward accuracy", ["train", "validation"]),
        ("reward margin", ["train", "validation"]),
    ]  # kl is third in line: two judged panels at most
    accuracy, margin = drawn[1], drawn[2]
    assert accuracy.bounded and not margin.bounded  # an accuracy's axis is [0, 1]
    assert accuracy.series[1].points == [(3, 0.5), (6, 0.5)]
    assert accuracy.series[1].validation and not accuracy.series[0].validation


def test_an_sft_run_has_the_loss_panel_only():
    rows = [{"step": 1, "loss": 2.0, "token_accuracy": 0.1}, {"step": 1, "eval_loss": 1.9}]
    assert layout(panels(rows)) == [("loss", ["train", "validation"])]


def test_online_methods_show_reward_and_kl_apart():
    rows = [{"step": s, "loss": 0.1, "reward_mean": s / 4, "kl": s / 100} for s in (1, 2)]
    rows.append({"step": 2, "eval_reward_mean": 0.7})
    assert layout(panels(rows)) == [
        ("loss", ["train"]),
        ("mean reward", ["train", "validation"]),
        ("KL to reference", ["train"]),
    ]


def test_event_rows_are_not_points_and_mark_the_resume_step():
    rows = dpo_rows()
    assert [step for step, _ in series(rows, "loss")] == [1, 2, 3, 4, 5, 6]
    assert resume_steps(rows) == [3]
    restarted = [{"event": "resumed", "step": 0, "changed": {}}, *rows]
    assert resume_steps(restarted) == [3]  # a resume at step 0 is a fresh start


def test_the_figure_has_integer_steps_own_y_axes_and_the_resume_line():
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig = draw(dpo_rows(), "run")
    try:
        assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "reward accuracy", "reward margin"]
        for ax in fig.axes:
            assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
            assert not ax.get_shared_y_axes().get_siblings(ax)[1:]  # a y axis of its own
            vertical = [line for line in ax.get_lines() if list(line.get_xdata()) == [3, 3]]
            assert len(vertical) == 1  # the resume step, on every panel
        assert fig.axes[1].get_ylim() == (-0.02, 1.02)
        assert "resumed at step 3" in fig.axes[0].get_legend_handles_labels()[1]
    finally:
        plt.close(fig)


def shown_steps(rows: list[dict]) -> list[float]:
    import matplotlib.pyplot as plt

    fig = draw(rows, "run")
    try:
        ax = fig.axes[0]
        return [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    finally:
        plt.close(fig)


def test_a_short_run_has_no_fractional_steps():
    rows = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.9}]
    assert shown_steps(rows) == [1.0, 2.0]  # not 1.0, 1.2, 1.4, ...


def test_a_run_logged_at_one_step_has_that_step_as_its_only_tick():
    rows = [{"step": 2, "loss": 2.0}, {"step": 2, "eval_loss": 1.9}]
    assert shown_steps(rows) == [2.0]  # not 1.900, 1.925, 1.950, ...


def test_plot_losses_writes_the_png_by_rename(tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "loss.png"
    plot_losses(dpo_rows(), path, "run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]
    assert plt.get_fignums() == []  # the figure is closed, not leaked


def test_lengths_split_into_kept_and_removed_with_a_max_cutoff():
    before = np.arange(1, 201)  # 1..200 tokens, one record each
    after = before[before <= 100]
    hist = length_histogram(before, after, LengthBounds(max=100), bins=20)
    assert hist.kept.sum() == 100 and hist.removed.sum() == 100
    assert hist.kept.sum() + hist.removed.sum() == len(before)
    assert hist.cutoffs == {"max": 100}
    assert 101 in hist.edges  # no bar mixes kept (<= 100) and removed (> 100) records
    cut = list(hist.edges).index(101)
    assert hist.removed[:cut].sum() == 0 and hist.kept[cut:].sum() == 0


def test_outliers_are_clipped_into_a_labelled_last_bin():
    before = np.concatenate([np.full(990, 50), np.arange(40, 60), [100_000]])
    hist = length_histogram(before, before, None, bins=10)
    assert hist.clipped_at is not None and hist.clipped_at < 1_000
    assert hist.edges[-2] == hist.clipped_at  # the last bin is [clipped_at, ...)
    assert hist.kept[-1] >= 1  # the 100,000-token record is counted there
    assert hist.edges[-1] < 1_000  # and does not stretch the axis
    assert hist.kept.sum() == len(before)


def test_a_far_max_cutoff_does_not_stretch_the_axis():
    before = np.concatenate([np.arange(10, 200), [5_000, 6_000]])
    after = before[before <= 4_096]
    hist = length_histogram(before, after, LengthBounds(max=4_096))
    assert hist.edges[-1] < 1_000 and hist.clipped_at is not None
    assert hist.removed[-1] == 2  # the 5,000 and 6,000-token records, in the clipped bin
    assert hist.removed[:-1].sum() == 0


def test_no_clipping_when_nothing_is_far_out():
    before = np.arange(5, 45)
    hist = length_histogram(before, before, LengthBounds(min=8))
    assert hist.clipped_at is None and hist.edges[-1] >= 44
    assert hist.cutoffs == {"min": 8} and hist.edges[0] <= 5


@pytest.mark.parametrize("value", [0, 7])
def test_a_single_length_still_has_a_bin(value):
    hist = length_histogram(np.full(3, value), np.full(3, value), None)
    assert hist.kept.sum() == 3 and len(hist.edges) >= 2
