"""The penalties against forgetting (train/anchors.py) by hand-derived numbers, the
empirical Fisher of a logistic model, and the wrapper that adds a penalty exactly once
per optimizer step however the step is split (train/forgetting.py).

The worked example of anchors.py: theta = ([1, 2], [[3]]), theta0 = ([0, 2], [[1]]),
F = ([0.5, 4], [[0.25]]), so theta - theta0 = (1, 0, 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from tests.unit.test_loop import losses, make_trainer, toy_loss
from tuneforge.train.anchors import Anchors, diagonal_fisher, ewc_penalty, l2_to_start
from tuneforge.train.forgetting import with_mitigations
from tuneforge.train.loop import LoopState


def worked_example():
    params = [
        torch.tensor([1.0, 2.0], requires_grad=True),
        torch.tensor([[3.0]], requires_grad=True),
    ]
    start = [torch.tensor([0.0, 2.0]), torch.tensor([[1.0]])]
    fisher = [torch.tensor([0.5, 4.0]), torch.tensor([[0.25]])]
    return params, start, fisher


def test_l2_to_start_by_hand():
    """alpha/2 * sum (theta - theta0)^2 = 2/2 * (1 + 0 + 4) = 5; its gradient is
    alpha (theta - theta0) = (2, 0), (4)."""
    params, start, _ = worked_example()
    penalty = l2_to_start(params, start, weight=2.0)
    assert penalty.item() == pytest.approx(5.0)
    penalty.backward()
    assert params[0].grad.tolist() == pytest.approx([2.0, 0.0])
    assert params[1].grad.tolist() == [[pytest.approx(4.0)]]


def test_ewc_penalty_by_hand():
    """lambda/2 * sum F (theta - theta0)^2 = 4/2 * (0.5 * 1 + 4 * 0 + 0.25 * 4) = 3 (eq. 3 of
    Kirkpatrick et al., with its 1/2); its gradient is lambda F (theta - theta0) =
    4 * (0.5 * 1, 4 * 0), 4 * (0.25 * 2) = (2, 0), (2)."""
    params, start, fisher = worked_example()
    penalty = ewc_penalty(params, start, fisher, lam=4.0)
    assert penalty.item() == pytest.approx(3.0)
    penalty.backward()
    assert params[0].grad.tolist() == pytest.approx([2.0, 0.0])
    assert params[1].grad.tolist() == [[pytest.approx(2.0)]]


def test_no_penalty_at_the_start():
    params, _, fisher = worked_example()
    start = [p.detach().clone() for p in params]
    assert l2_to_start(params, start, 7.0).item() == 0.0
    assert ewc_penalty(params, start, fisher, 7.0).item() == 0.0


def test_anchors_report_each_active_penalty_by_name():
    params, start, fisher = worked_example()
    assert Anchors(params, start).penalties() == {}
    both = Anchors(params, start, l2_weight=2.0, fisher=fisher, ewc_lambda=4.0).penalties()
    assert {k: v.item() for k, v in both.items()} == {
        "l2_to_start_penalty": pytest.approx(5.0),
        "ewc_penalty": pytest.approx(3.0),
    }
    anchored = Anchors.at(params)
    assert anchored.start[1].tolist() == [[3.0]] and anchored.start[1] is not params[1]


def test_diagonal_fisher_of_a_logistic_model_by_hand():
    """p(y=1 | x) = sigmoid(w . x); d log p(y | x) / dw = (y - sigmoid(w . x)) x. At w = 0
    the sigmoid is 1/2: (x = [1, 2], y = 1) gives 0.5 * [1, 2] = [0.5, 1], squared
    [0.25, 1]; (x = [3, -1], y = 0) gives -0.5 * [3, -1] = [-1.5, 0.5], squared
    [2.25, 0.25]. F = their mean = [1.25, 0.625]. A parameter the likelihood does not
    reach gets zeros, and no gradient is left behind."""
    w = torch.zeros(2, requires_grad=True)
    unused = torch.ones(3, requires_grad=True)
    samples = [(torch.tensor([1.0, 2.0]), 1.0), (torch.tensor([3.0, -1.0]), 0.0)]

    def log_likelihood(sample):
        x, y = sample
        logit = w @ x
        return -torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.tensor(y))

    fisher = diagonal_fisher([w, unused], samples, log_likelihood)
    assert fisher[0].tolist() == pytest.approx([1.25, 0.625])
    assert fisher[1].tolist() == [0.0, 0.0, 0.0]
    assert w.grad is None and unused.grad is None


@dataclass
class Units:
    """A stand-in batch: `x` per unit (the loss sums w . x over its units)."""

    x: torch.Tensor  # [units, 2]

    @property
    def n_units(self) -> int:
        return len(self.x)


def test_the_penalty_enters_once_per_step_however_the_step_is_split():
    """The loop backpropagates sum_b loss_b / U over a step's parts. With the task loss
    sum_units w . x, the step's gradient is mean(x) + alpha (w - w0) + lambda F (w - w0)
    for every split. Here w - w0 = (1, -2), mean(x) = (1, 1), alpha = 3, lambda = 2,
    F = (0.5, 1): (1 + 3 + 1, 1 - 6 - 4) = (5, -9)."""
    w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    anchors = Anchors([w], [torch.tensor([0.0, 1.0])], 3.0, [torch.tensor([0.5, 1.0])], 2.0)
    loss_fn = with_mitigations(lambda model, b: ((b.x @ w).sum(), {}), anchors, False)
    x = torch.ones(10, 2) + torch.linspace(-1, 1, 10)[:, None] * torch.tensor([1.0, -1.0])
    for sizes in ([10], [3, 7], [1, 1, 8], [2] * 5):
        w.grad = None
        for part in torch.split(x, sizes):
            loss, metrics = loss_fn(None, Units(part))
            (loss / len(x)).backward()
        assert w.grad.tolist() == pytest.approx([5.0, -9.0]), sizes
    assert metrics["ewc_penalty"] == pytest.approx(2 / 2 * (0.5 * 1 + 1 * 4) * 2)  # x 2 units
    assert metrics["l2_to_start_penalty"] == pytest.approx(3 / 2 * (1 + 4) * 2)


def test_an_anchored_run_is_the_same_for_batch_8_and_batch_2_times_accumulation_4(tmp_path):
    def anchored(trainer):
        params = list(trainer.model.parameters())
        trainer.loss_fn = with_mitigations(toy_loss, Anchors.at(params, 5.0), False)
        return trainer

    big = anchored(make_trainer(tmp_path / "big", batch_size=8, grad_accum=1, max_steps=3))
    small = anchored(make_trainer(tmp_path / "small", batch_size=2, grad_accum=4, max_steps=3))
    free = make_trainer(tmp_path / "free", batch_size=8, grad_accum=1, max_steps=3)
    for trainer in (big, small, free):
        trainer.fit(LoopState())
    assert losses(small) == pytest.approx(losses(big), rel=1e-6)
    for a, b in zip(big.model.parameters(), small.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    # ...and the penalty changed the run: its steps after the first move less.
    moved = lambda t: sum(  # noqa: E731
        (p - p0).square().sum() for p, p0 in zip(t.model.parameters(), start, strict=True)
    )
    torch.manual_seed(big.cfg.seed)
    start = [p.detach() for p in make_trainer(tmp_path / "start").model.parameters()]
    assert moved(big) < moved(free)
    rows = [row for row in big.run.read_metrics() if "loss" in row]
    assert rows[0]["l2_to_start_penalty"] == 0.0 and rows[-1]["l2_to_start_penalty"] > 0
