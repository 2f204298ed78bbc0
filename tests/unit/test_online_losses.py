"""The online methods' pieces (PPO, GRPO) against numbers worked out by hand.

Notation: per-token tensors are flat [tokens] in row-major order and `rows` names each
token's row. The shared example has two completions, row 0 with two tokens and row 1
with one:

    rows = [0, 0, 1]
    ratio = pi / pi_old = [1.5, 1.0, 0.5]     (old log-probs -1, so logps = -1 + log ratio)
    epsilon = 0.2, so the ratio is clipped to [0.8, 1.2]

and where a reference is used, log pi_ref - log pi = [log 2, 0, -log 2], for which the
k3 estimator e^d - d - 1 gives

    d = log 2:   2 - 0.693147 - 1   = 0.306853
    d = 0:       1 - 0 - 1          = 0
    d = -log 2:  0.5 + 0.693147 - 1 = 0.193147
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from tuneforge.train.methods.grpo.loss import group_advantages, grpo_loss
from tuneforge.train.methods.ppo.loss import (
    AdaptiveKL,
    clipped_value_loss,
    gae,
    ppo_loss,
    token_rewards,
    whiten,
)
from tuneforge.train.policy_gradient import clipped_policy_loss, k3_kl, per_row_mean

ROWS = torch.tensor([0, 0, 1])
OLD = torch.tensor([-1.0, -1.0, -1.0])
LOGPS = OLD + torch.tensor([1.5, 1.0, 0.5]).log()
REF = LOGPS + torch.tensor([math.log(2), 0.0, -math.log(2)])
KL = torch.tensor([0.306853, 0.0, 0.193147])


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values)


def test_gae_discounts_within_a_row_and_resets_at_its_end():
    """gamma 0.9, lambda 0.5 (gamma lambda = 0.45); rewards [0, 1, 2], values
    [0.5, 0.2, 1.0]. Each row's last token sees V = 0 and A = 0 after it:
        row 1, t=2: delta = 2 - 1.0 = 1.0;             A = 1.0
        row 0, t=1: delta = 1 + 0 - 0.2 = 0.8;          A = 0.8
             t=0: delta = 0 + 0.9 * 0.2 - 0.5 = -0.32;  A = -0.32 + 0.45 * 0.8 = 0.04
    Without the reset, t=1 would see row 1's value and advantage: 1 + 0.9 - 0.2 + 0.45 = 2.15.
    Returns are A + V = [0.54, 1.0, 2.0]."""
    advantages, returns = gae(t(0.0, 1.0, 2.0), t(0.5, 0.2, 1.0), ROWS, 0.9, 0.5)
    assert_close(advantages, t(0.04, 0.8, 1.0))
    assert_close(returns, t(0.54, 1.0, 2.0))


def test_gae_with_gamma_and_lambda_one_sums_the_rewards_to_go():
    """gamma = lambda = 1: A_t = sum of rewards from t to the row's end - V_t."""
    advantages, _ = gae(t(1.0, 2.0, 4.0), t(0.5, 0.5, 0.5), ROWS, 1.0, 1.0)
    assert_close(advantages, t(3.0 - 0.5, 2.0 - 0.5, 4.0 - 0.5))


def test_whiten():
    """[1, 2, 3]: mean 2, unbiased std 1 -> [-1, 0, 1]. [1, 3]: std sqrt(2) -> +-0.707107.
    One value has no std (NaN) and is returned unchanged."""
    assert_close(whiten(t(1.0, 2.0, 3.0)), t(-1.0, 0.0, 1.0))
    assert_close(whiten(t(1.0, 3.0)), t(-0.707107, 0.707107))
    assert_close(whiten(t(5.0)), t(5.0))


def test_token_rewards_with_and_without_a_reference():
    """beta 0.1, old log-probs [-1, -2, -0.5], reference [-1.5, -1, -0.5]:
    -beta (old - ref) = -0.1 x [0.5, -1, 0] = [-0.05, 0.1, 0]; scores [3, -1] go on
    each row's last token (t=1 and t=2): [-0.05, 3.1, -1.0]. Without a reference: [0, 3, -1]."""
    scores, old, ref = t(3.0, -1.0), t(-1.0, -2.0, -0.5), t(-1.5, -1.0, -0.5)
    assert_close(token_rewards(scores, old, ref, ROWS, 0.1), t(-0.05, 3.1, -1.0))
    assert_close(token_rewards(scores, old, None, ROWS, 0.1), t(0.0, 3.0, -1.0))


def test_clipped_policy_loss_clips_the_side_the_advantage_favours():
    """epsilon 0.2; loss = -min(ratio A, clip(ratio, 0.8, 1.2) A):
        ratio 1.1, A +1: inside the range          -> -1.1, not clipped
        ratio 1.5, A +1: min(1.5, 1.2) = 1.2        -> -1.2, clipped
        ratio 0.5, A +1: min(0.5, 0.8) = 0.5        -> -0.5, not clipped (no floor)
        ratio 0.5, A -1: min(-0.5, -0.8) = -0.8     ->  0.8, clipped
        ratio 1.5, A -1: min(-1.5, -1.2) = -1.5     ->  1.5, not clipped (no ceiling)
    A clipped token has no gradient; the others have d/dlogp = -ratio A."""
    ratio, advantages = t(1.1, 1.5, 0.5, 0.5, 1.5), t(1.0, 1.0, 1.0, -1.0, -1.0)
    logps = ratio.log().requires_grad_()
    loss, clipped = clipped_policy_loss(logps, torch.zeros(5), advantages, 0.2)
    assert_close(loss, t(-1.1, -1.2, -0.5, 0.8, 1.5))
    assert_close(clipped, t(0.0, 1.0, 0.0, 1.0, 0.0))
    loss.sum().backward()
    assert_close(logps.grad, t(-1.1, 0.0, -0.5, 0.0, 1.5))


def test_clipped_value_loss_takes_the_worse_branch():
    """clip 0.2, old value 0.5, return 1; L = 1/2 max((V - R)^2, (clip(V) - R)^2):
    V 1.0: (0)^2 vs (0.7 - 1)^2 = 0.09     -> clipped branch, 0.045
    V 0.0: (1)^2 vs (0.3 - 1)^2 = 0.49     -> unclipped branch, 0.5
    V 0.6: inside the clip, both 0.16      -> 0.08"""
    loss = clipped_value_loss(t(1.0, 0.0, 0.6), t(0.5, 0.5, 0.5), t(1.0, 1.0, 1.0), 0.2)
    assert_close(loss, t(0.045, 0.5, 0.08))


def test_adaptive_kl():
    """beta 0.1, target 6, horizon 10,000; beta *= 1 + clip(kl / 6 - 1, +-0.2) n / horizon:
    kl 9, n 1000:   error 0.5 -> 0.2;  x 1.02  -> 0.102
    kl 6.6, n 1000: error 0.1;         x 1.01  -> 0.10302
    kl 0, n 5000:   error -1 -> -0.2;  x 0.9   -> 0.092718"""
    control = AdaptiveKL(0.1, 6.0)
    for kl, n, expected in [(9.0, 1000, 0.102), (6.6, 1000, 0.10302), (0.0, 5000, 0.092718)]:
        control.update(kl, n)
        assert control.beta == pytest.approx(expected, rel=1e-9)
    restored = AdaptiveKL(0.5, 6.0)
    restored.load_state_dict(control.state_dict())
    assert restored.beta == control.beta
    fixed = AdaptiveKL(0.1, None)
    fixed.update(100.0, 10_000)
    assert fixed.beta == 0.1


def test_group_advantages():
    """Groups of 3: [1, 2, 3] has mean 2 and unbiased std 1 (biased: 0.816), so
    [-1, 0, 1] / (1 + 1e-4) = +-0.999900; [5, 5, 5] has std 0, so 0 / 1e-4 = 0, not NaN.
    Without scaling the advantages are just centred."""
    rewards = t(1.0, 2.0, 3.0, 5.0, 5.0, 5.0)
    assert_close(group_advantages(rewards, 3), t(-0.999900, 0.0, 0.999900, 0.0, 0.0, 0.0))
    assert_close(group_advantages(rewards, 3, scale=False), t(-1.0, 0.0, 1.0, 0.0, 0.0, 0.0))


def test_k3_kl():
    """Zero where the log-probs agree, the module docstring's worked values, and never
    negative (e^d >= 1 + d)."""
    assert_close(k3_kl(t(-1.0, -3.0), t(-1.0, -3.0)), t(0.0, 0.0))
    assert_close(k3_kl(LOGPS, REF), KL)
    g = torch.Generator().manual_seed(0)
    logps, ref = -10 * torch.rand(1000, generator=g), -10 * torch.rand(1000, generator=g)
    assert (k3_kl(logps, ref) >= 0).all()


def test_grpo_loss_by_hand():
    """Advantages per row [1, -0.5], beta 0.1, the shared example:
        policy: ratio 1.5, A 1 -> -1.2 (clipped); ratio 1, A 1 -> -1.0;
                ratio 0.5, A -0.5: min(-0.25, -0.4) -> 0.4 (clipped)
        + beta kl: [-1.2 + 0.0306853, -1.0, 0.4 + 0.0193147] = [-1.169315, -1.0, 0.419315]
        per row: [(-1.169315 - 1.0) / 2, 0.419315] = [-1.084657, 0.419315]
    Without a reference the KL is zeros: [(-1.2 - 1.0) / 2, 0.4] = [-1.1, 0.4]."""
    advantages = t(1.0, -0.5)
    terms = grpo_loss(LOGPS, OLD, REF, advantages, ROWS, 2, 0.2, 0.1)
    assert_close(terms.policy, t(-1.2, -1.0, 0.4))
    assert_close(terms.kl, KL)
    assert_close(terms.clipped, t(1.0, 0.0, 1.0))
    assert_close(terms.per_row, t(-1.084657, 0.419315))
    no_ref = grpo_loss(LOGPS, OLD, None, advantages, ROWS, 2, 0.2, 0.1)
    assert_close(no_ref.kl, torch.zeros(3))
    assert_close(no_ref.per_row, t(-1.1, 0.4))


def test_grpo_loss_without_old_logps_is_the_plain_policy_gradient():
    """old_logps None: ratio 1, so policy = -A = [-1, -1, 0.5] and nothing clips; the
    gradient of the rows' summed loss is -A / (the row's tokens) = [-0.5, -0.5, 0.5]."""
    logps = LOGPS.clone().requires_grad_()
    terms = grpo_loss(logps, None, None, t(1.0, -0.5), ROWS, 2, 0.2, 0.1)
    assert_close(terms.policy, t(-1.0, -1.0, 0.5))
    assert_close(terms.clipped, torch.zeros(3))
    terms.per_row.sum().backward()
    assert_close(logps.grad, t(-0.5, -0.5, 0.5))


def test_ppo_loss_by_hand():
    """Advantages per token [1, 1, -0.5] give the policy terms of the GRPO example,
    [-1.2, -1.0, 0.4]; values [1, 0, 0.6], old values 0.5, returns 1, clip 0.2 give the
    value terms of the value-loss test, [0.045, 0.5, 0.08]; weight 0.1:
        per token [-1.2 + 0.0045, -1.0 + 0.05, 0.4 + 0.008] = [-1.1955, -0.95, 0.408]
        per row   [(-1.1955 - 0.95) / 2, 0.408] = [-1.07275, 0.408]"""
    terms = ppo_loss(
        LOGPS, t(1.0, 0.0, 0.6), OLD, t(0.5, 0.5, 0.5), t(1.0, 1.0, 1.0), t(1.0, 1.0, -0.5),
        ROWS, 2, 0.2, 0.2, 0.1,
    )  # fmt: skip
    assert_close(terms.policy, t(-1.2, -1.0, 0.4))
    assert_close(terms.value, t(0.045, 0.5, 0.08))
    assert_close(terms.clipped, t(1.0, 0.0, 1.0))
    assert_close(terms.per_row, t(-1.07275, 0.408))


# The recipes' loss closures as they were before these functions, written out from the
# helpers: the pure functions must reproduce them exactly, values and gradients.


def grpo_closure(logps, old_logps, ref_logps, advantages, rows, n, epsilon, beta):
    old = old_logps if old_logps is not None else logps.detach()
    policy, clipped = clipped_policy_loss(logps, old, advantages[rows], epsilon)
    per_token = policy
    kl = torch.zeros_like(logps)
    if ref_logps is not None:
        kl = k3_kl(logps, ref_logps)
        per_token = policy + beta * kl
    return per_row_mean(per_token, rows, n).sum(), policy, kl, clipped


def ppo_closure(logps, values, old_logps, old_values, returns, advantages, rows, n, e, c, w):
    policy, clipped = clipped_policy_loss(logps, old_logps, advantages, e)
    value = clipped_value_loss(values, old_values, returns, c)
    return per_row_mean(policy + w * value, rows, n).sum(), policy, value, clipped


def random_rollout(seed: int = 0):
    """Four rows of 3, 1, 5 and 2 tokens, log-probs near each other so some ratios clip."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.repeat_interleave(torch.arange(4), torch.tensor([3, 1, 5, 2]))
    old = -5 * torch.rand(len(rows), generator=g)
    near = lambda: old + 0.4 * torch.randn(len(rows), generator=g)  # noqa: E731
    return rows, old, near(), near(), g


def exactly(a: torch.Tensor, b: torch.Tensor) -> None:
    assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(("with_old", "with_ref"), [(True, True), (False, True), (True, False)])
def test_grpo_loss_reproduces_the_recipe_closure(with_old, with_ref):
    rows, old, logps, ref, g = random_rollout()
    old, ref = old if with_old else None, ref if with_ref else None
    advantages = torch.randn(4, generator=g)
    ours, theirs = logps.clone().requires_grad_(), logps.clone().requires_grad_()
    terms = grpo_loss(ours, old, ref, advantages, rows, 4, 0.2, 0.04)
    loss, policy, kl, clipped = grpo_closure(theirs, old, ref, advantages, rows, 4, 0.2, 0.04)
    exactly(terms.per_row.sum(), loss)
    for a, b in [(terms.policy, policy), (terms.kl, kl), (terms.clipped, clipped)]:
        exactly(a, b)
    terms.per_row.sum().backward()
    loss.backward()
    exactly(ours.grad, theirs.grad)


def test_ppo_loss_reproduces_the_recipe_closure():
    rows, old, logps, _, g = random_rollout(1)
    old_values, returns, advantages = (torch.randn(len(rows), generator=g) for _ in range(3))
    values = old_values + 0.3 * torch.randn(len(rows), generator=g)
    grads = []
    for fn in ("ours", "closure"):
        lp, v = logps.clone().requires_grad_(), values.clone().requires_grad_()
        args = (lp, v, old, old_values, returns, advantages, rows, 4, 0.2, 0.2, 0.1)
        if fn == "ours":
            terms = ppo_loss(*args)
            loss, parts = terms.per_row.sum(), (terms.policy, terms.value, terms.clipped)
        else:
            loss, *parts = ppo_closure(*args)
        loss.backward()
        grads.append((loss, *parts, lp.grad, v.grad))
    for a, b in zip(*grads, strict=True):
        exactly(a, b)
