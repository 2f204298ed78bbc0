"""Mitigations against catastrophic forgetting for every method: replay of general data
(`data.replay`, train/replay.py) and penalties that anchor the trained weights where
they started (`train.l2_to_start`, `train.ewc`, train/anchors.py). No method knows about
them: Session.fit wraps the method's plan and training loss function (its validation
measures the method's own loss, unchanged).

The loop divides each micro-batch's summed loss by the units U of the whole optimizer
step (train/loop.py). So:

- a penalty Omega(theta), a function of the weights alone, is added as Omega * U_b to
  the sum of each part b of the method's data (U_b its units): over the step,
  sum_b Omega * U_b / U = Omega, exactly once per optimizer step whatever grad_accum and
  max_tokens_per_forward are;
- the replay examples drawn for a micro-batch b (about ratio x its tokens) add their
  summed token NLL times ratio * U_b / R_b (R_b their trained tokens), so the step's
  loss is

      L = L_method + ratio * sum_b (U_b / U) * NLL_replay(b)

  with NLL_replay(b) the mean NLL per replay token of micro-batch b: with grad_accum 1,
  exactly L_method + ratio * L_replay, each kind averaged over its own units. For SFT
  this is the gradient of a batch holding ratio x as many replay trained tokens as task
  ones, normalised by the task's: replay tokens weigh as task tokens, and the task's
  gradient is the same as without replay.

The metrics rows report `task_loss` (the method's own loss), `replay_loss` (mean NLL per
replay token), `ewc_penalty` and `l2_to_start_penalty`; `loss` is the whole objective.

The anchors and the Fisher are taken before a resumed run loads its checkpoint, from the
freshly built model (the same seed builds the same adapter initialisation) and the same
general examples, so a resumed run recomputes exactly the penalty it had.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from tuneforge.config import RunConfig
from tuneforge.data.batching import collate
from tuneforge.data.read.streams import data_suffix
from tuneforge.data.readers import TEXT_SUFFIXES, read_examples
from tuneforge.data.records import Example
from tuneforge.data.templating import TokenizedExample, tokenize_examples
from tuneforge.errors import DataError
from tuneforge.models.logprobs import target_logps, trained_logits
from tuneforge.train.anchors import Anchors, diagonal_fisher
from tuneforge.train.loop import LossFn, Metric
from tuneforge.train.replay import MixedBatch, ReplayPlan

if TYPE_CHECKING:
    from tuneforge.train.session import Session


@dataclass
class GeneralData:
    """Tokenized general examples: to replay, and to estimate the Fisher on."""

    replay: list[TokenizedExample]
    fisher: list[TokenizedExample]
    fisher_source: str | None = None

    def summary(self) -> dict[str, int]:
        return {"replay_examples": len(self.replay), "fisher_examples": len(self.fisher)}


def load_general_data(cfg: RunConfig, tokenizer) -> GeneralData | None:
    """Read and tokenize data.replay.path and train.ewc's data (default: the replay's),
    as SFT data; every data error surfaces here, before the run directory is touched.
    None when neither is asked for."""
    replay_cfg, ewc = cfg.data.replay, cfg.train.ewc
    if replay_cfg is None and ewc is None:
        return None
    replay = general_examples(replay_cfg.path, cfg, tokenizer) if replay_cfg else []
    fisher, source = [], None
    if ewc is not None:
        source = ewc.data or (replay_cfg.path if replay_cfg else None)
        assert source is not None  # RunConfig refuses EWC without general data
        pool = replay if ewc.data is None else general_examples(ewc.data, cfg, tokenizer)
        order = list(range(len(pool)))
        random.Random(cfg.train.seed).shuffle(order)
        fisher = [pool[i] for i in sorted(order[: ewc.fisher_samples])]
    return GeneralData(replay, fisher, source)


def general_examples(path: str, cfg: RunConfig, tokenizer) -> list[TokenizedExample]:
    """A file of general records as tokenized SFT examples (a .txt/.md file as plain-text
    documents), with data.max_length and data.tool_format."""
    text = data_suffix(Path(path)) in TEXT_SUFFIXES
    examples = cast(
        "list[Example]", read_examples(path, kind="sft", format="text" if text else "auto")
    )
    data = cfg.data
    tokenized, stats = tokenize_examples(
        examples, tokenizer, data.max_length, path, tool_format=data.tool_format
    )
    if not tokenized:
        raise DataError(
            path, None, None,
            f"no general record has a trained token within data.max_length="
            f"{data.max_length} ({stats.dropped_no_target} dropped)",
        )  # fmt: skip
    return tokenized


def mitigate(session: Session, plan: Any, loss_fn: LossFn) -> tuple[Any, LossFn]:
    """The plan and training loss the loop runs: with replay beside every micro-batch and
    the penalties added, as the config asks; the method's own when it asks for none.
    Anchors are taken at the model's current weights: call before loading a checkpoint."""
    cfg, general = session.cfg, session.general
    anchors = None
    if cfg.train.l2_to_start or cfg.train.ewc is not None:
        anchors = Anchors.at(anchored_parameters(session), cfg.train.l2_to_start)
        if cfg.train.ewc is not None:
            assert general is not None
            anchors.fisher = estimate_fisher(session, anchors.params, general)
            anchors.ewc_lambda = cfg.train.ewc.lambda_
    if cfg.data.replay is not None:
        assert general is not None
        pad = session.tokenizer.pad_token_id
        plan = ReplayPlan(plan, general.replay, cfg.data.replay.ratio, pad, cfg.train.seed)
    if anchors is None and cfg.data.replay is None:
        return plan, loss_fn
    return plan, with_mitigations(loss_fn, anchors, session.direct_head)


def with_mitigations(loss_fn: LossFn, anchors: Anchors | None, direct_head: bool) -> LossFn:
    """The method's loss_fn, plus each penalty x the part's units, plus the replay's
    summed token NLL x its scale (the module doc has the maths)."""

    def loss(model, batch) -> tuple[torch.Tensor, dict[str, Metric]]:
        mixed = isinstance(batch, MixedBatch)
        task, replay = (batch.task, batch.replay) if mixed else (batch, None)
        total: torch.Tensor | None = None
        metrics: dict[str, Metric] = {}
        if task is not None:
            total, metrics = loss_fn(model, task)
            metrics = {**metrics, "task_loss": float(total.detach())}
            for name, penalty in (anchors.penalties() if anchors else {}).items():
                total = total + penalty * task.n_units
                metrics[name] = float(penalty.detach()) * task.n_units
        if replay is not None:
            nll = -target_logps(*trained_logits(model, replay, direct_head)).sum()
            term = batch.replay_scale * nll
            total = term if total is None else total + term
            metrics["replay_loss"] = (float(nll.detach()), replay.n_trained)
        assert total is not None
        return total, metrics

    return loss


def anchored_parameters(session: Session) -> list[torch.nn.Parameter]:
    """The trainable parameters, less the method's training-only modules (PPO's value
    head): forgetting is about the model that is saved."""
    model = session.accelerator.unwrap_model(session.model)
    return [
        p
        for name, p in model.named_parameters()
        if p.requires_grad and name.split(".")[0] not in session.auxiliary
    ]


def estimate_fisher(
    session: Session, params: list[torch.nn.Parameter], general: GeneralData
) -> list[torch.Tensor]:
    """The empirical diagonal Fisher of `params` at the current weights, over the general
    examples: each example's log-likelihood is the mean log-probability of its trained
    tokens (so long and short ones weigh alike, on the scale of the per-token losses
    methods train), with its own tokens as labels. Eval mode (no dropout), the run's
    precision, and the random state left as it was."""
    model = session.accelerator.unwrap_model(session.model)
    device = session.accelerator.device
    pad = session.tokenizer.pad_token_id

    def log_likelihood(example: TokenizedExample) -> torch.Tensor:
        batch = collate([example], pad).to(device)
        with session.autocast():
            return target_logps(*trained_logits(model, batch, session.direct_head)).mean()

    started, was_training = time.perf_counter(), model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            fisher = diagonal_fisher(params, general.fisher, log_likelihood)
    finally:
        model.train(was_training)
    session.log(
        f"EWC: diagonal Fisher of {sum(p.numel() for p in params):,} trained weights from "
        f"{len(general.fisher)} examples of {general.fisher_source} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return fisher
