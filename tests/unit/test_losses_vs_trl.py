"""Cross-check the DPO-family losses against TRL's own formulas on the same random
log-probabilities. TRL is a benchmark-only dependency: without it these are skipped.

TRL's DPO loss lives inside its trainer's forward, but its CPO trainer computes the
same sigmoid / hinge / IPO formulas on whatever "log-probs" it is given, so feeding it
the log-ratios (policy - reference) reproduces DPO; its ORPO trainer exposes the odds
ratio term, and CPO's `simpo` loss type is SimPO. The methods are called unbound on a
namespace that carries the attributes they read.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

pytestmark = pytest.mark.trl
trl_cpo = pytest.importorskip("trl.experimental.cpo.cpo_trainer")
trl_orpo = pytest.importorskip("trl.experimental.orpo.orpo_trainer")

from tuneforge.train.methods.dpo.loss import PairLogps, dpo_loss  # noqa: E402
from tuneforge.train.methods.orpo.loss import orpo_loss  # noqa: E402
from tuneforge.train.methods.simpo.loss import simpo_loss  # noqa: E402

CPU = SimpleNamespace(device="cpu")


def random_pairs(seed: int = 0, n: int = 16) -> tuple[PairLogps, PairLogps]:
    g = torch.Generator().manual_seed(seed)
    logps = lambda: -torch.rand(n, generator=g) * 50 - 1  # noqa: E731
    tokens = lambda: torch.randint(1, 40, (n,), generator=g).float()  # noqa: E731
    chosen_tokens, rejected_tokens = tokens(), tokens()
    policy = PairLogps(logps(), logps(), chosen_tokens, rejected_tokens)
    reference = PairLogps(logps(), logps(), chosen_tokens, rejected_tokens)
    return policy, reference


def trl_cpo_loss(loss_type: str, beta: float, chosen, rejected, smoothing=0.0, gamma=0.0):
    trainer = SimpleNamespace(
        alpha=0.0, loss_type=loss_type, beta=beta, label_smoothing=smoothing,
        simpo_gamma=gamma, accelerator=CPU,
    )  # fmt: skip
    return trl_cpo.CPOTrainer.cpo_loss(trainer, chosen, rejected)[0]


@pytest.mark.parametrize(
    ("loss", "trl_type", "smoothing"),
    [("sigmoid", "sigmoid", 0.0), ("sigmoid", "sigmoid", 0.2), ("hinge", "hinge", 0.0)],
)
def test_dpo_matches_trl(loss, trl_type, smoothing):
    policy, reference = random_pairs()
    ours = dpo_loss(policy, reference, 0.1, loss, smoothing)[0]
    theirs = trl_cpo_loss(
        trl_type, 0.1, policy.chosen - reference.chosen, policy.rejected - reference.rejected,
        smoothing,
    )  # fmt: skip
    torch.testing.assert_close(ours, theirs)


def test_ipo_matches_trl_on_per_token_log_ratios():
    policy, reference = random_pairs(1)
    ours = dpo_loss(policy, reference, 0.1, "ipo")[0]
    chosen = (policy.chosen - reference.chosen) / policy.chosen_tokens
    rejected = (policy.rejected - reference.rejected) / policy.rejected_tokens
    torch.testing.assert_close(ours, trl_cpo_loss("ipo", 0.1, chosen, rejected))


def test_reference_free_matches_trl():
    policy, _ = random_pairs(2)
    ours = dpo_loss(policy, None, 0.1, "reference_free")[0]
    torch.testing.assert_close(ours, trl_cpo_loss("sigmoid", 0.1, policy.chosen, policy.rejected))


def test_simpo_matches_trl():
    policy, _ = random_pairs(3)
    chosen = policy.chosen / policy.chosen_tokens
    rejected = policy.rejected / policy.rejected_tokens
    ours = simpo_loss(chosen, rejected, beta=2.0, gamma=0.5)[0]
    torch.testing.assert_close(ours, trl_cpo_loss("simpo", 2.0, chosen, rejected, gamma=0.5))


def test_orpo_odds_ratio_matches_trl():
    policy, _ = random_pairs(4)
    chosen = policy.chosen / policy.chosen_tokens
    rejected = policy.rejected / policy.rejected_tokens
    _, ours = orpo_loss(chosen, rejected, 0.1)
    trainer = SimpleNamespace(beta=0.1, accelerator=CPU)
    theirs = trl_orpo.ORPOTrainer.odds_ratio_loss(trainer, chosen, rejected)[0]
    torch.testing.assert_close(ours, -theirs / 0.1)  # TRL keeps beta * log sigma(log odds)
