"""The reference model of DPO and KTO: the policy's starting point.

With an adapter, the reference is the same model with the adapter switched off (PEFT's
`disable_adapter`), so no second copy sits in memory. With full fine-tuning it is a
frozen copy taken before the first step. Its log-probabilities can be computed once,
before training, for the pairs the run will train on (a 5-step run does not pay for a
whole file), and cached in the run directory, which resume reuses and extends.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import torch

from tuneforge.data.batching import Batch
from tuneforge.models import logprobs
from tuneforge.run_dir import RunDir
from tuneforge.train.loop import count_steps
from tuneforge.train.work_progress import work_progress

CACHE = "reference_logps.pt"
"""Name of the cache in the run directory (run_dir.RunDir.cache); eval_ + it for validation."""


class Reference:
    def __init__(self, model, accelerator, direct_head: bool, uses_adapter: bool, autocast=None):
        """`autocast`: the run's precision context (setup.make_autocast)."""
        self.model, self.accelerator, self.direct_head = model, accelerator, direct_head
        self.autocast = autocast or accelerator.autocast
        self.frozen = None
        if not uses_adapter:
            # Copied before any optimizer step, so these are the starting weights.
            self.frozen = copy.deepcopy(accelerator.unwrap_model(model)).requires_grad_(False)
            self.frozen.eval()

    def logps(self, batch: Batch, segments=None, n_sequences=None) -> torch.Tensor:
        """Summed target log-probabilities per sequence (see logprobs.sequence_logps), as
        the starting model gives them."""
        return self._run(
            lambda model: logprobs.sequence_logps(
                model, batch, self.direct_head, segments, n_sequences
            )[0]
        )

    def token_logps(self, batch: Batch) -> torch.Tensor:
        """Log-probability of every target token (flat, row-major), as the starting model
        gives them."""
        return self._run(lambda model: logprobs.token_logps(model, batch, self.direct_head)[0])

    @torch.no_grad()
    def _run(self, forward) -> torch.Tensor:
        if self.frozen is not None:
            return forward(self.frozen)
        model = self.model
        was_training = model.training
        model.eval()  # no adapter dropout: the reference is deterministic
        try:
            adapter_off = self.accelerator.unwrap_model(model).disable_adapter()
            with adapter_off, self.autocast():
                return forward(model)
        finally:
            model.train(was_training)

    def release(self) -> None:
        """Drop the frozen copy once its log-probabilities are cached."""
        self.frozen = None


def precompute_for_run(reference: Reference, session, plan, validation=None) -> None:
    """`precompute` for a session's run: the pairs its planned steps use, in its forward
    pass size, cached under its run directory for its model."""
    cfg = session.cfg
    batches = count_steps(plan.num_batches, cfg.train) * cfg.train.grad_accum
    precompute(
        reference, session.run, cfg.model.name_or_path, plan, validation, batches,
        session.forward_tokens,
    )  # fmt: skip


def precompute(
    reference: Reference,
    run: RunDir,
    model_name: str,
    plan,
    validation=None,
    batches: int | None = None,
    max_tokens: int | None = None,
) -> None:
    """Fill the plans' reference log-probs for the pairs the run will use (the first
    `batches` batches of training, every validation pair), cached in the run directory so
    resume reuses them, then drop the frozen copy: training never needs it again.
    `max_tokens`: forward passes of at most this many tokens, as training splits them."""
    order = plan.pairs_in_use(batches)
    plan.reference = precomputed(reference, plan, run.cache(CACHE), model_name, order, max_tokens)
    if validation is not None:
        validation.reference = precomputed(
            reference, validation, run.cache(f"eval_{CACHE}"), model_name,
            validation.pairs_in_use(None), max_tokens,
        )  # fmt: skip
    reference.release()


def precomputed(
    reference: Reference,
    plan,
    cache: Path,
    model_name: str,
    order: list[list[int]] | None = None,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """[n, 2] reference log-probs (chosen, rejected) of the pairs in `order` (batches of
    pair indices, in the order training uses them; default every pair); NaN for pairs
    the run never uses. The
    cache holds what an earlier start computed for the same token ids and model; only the
    missing pairs are computed, then the cache is rewritten whole (or not at all)."""
    n_rows = len(plan.pairs)
    tokens = hashlib.sha256()
    for pair in plan.pairs:
        tokens.update(json.dumps([pair.chosen.input_ids, pair.rejected.input_ids]).encode())
    key = {"model": model_name, "tokens": tokens.hexdigest(), "pairs": n_rows}
    fingerprint = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    order = plan.pairs_in_use(None) if order is None else order
    out = torch.full((n_rows, 2), float("nan"))
    if cache.is_file():
        saved = torch.load(cache)
        if saved.get("fingerprint") == fingerprint and len(saved["logps"]) == n_rows:
            out = saved["logps"]
    todo = dict.fromkeys(i for batch in order for i in batch if out[i].isnan().any())
    if not todo:
        return out
    pending, size = list(todo), plan.batch_size
    missing = [pending[i : i + size] for i in range(0, len(pending), size)]
    device = reference.accelerator.device
    with work_progress("reference log-probs", sum(map(len, missing)), "pairs") as advance:
        for indices in missing:
            # Split as training splits its batches: on CPU, 512-token passes are faster.
            for chunk in plan.collate(indices).split(max_tokens):
                sequences = chunk.sequences.to(device)
                sums = reference.logps(sequences, chunk.segments, 2 * chunk.n_pairs)
                out[chunk.indices] = torch.stack(sums.cpu().chunk(2), dim=1)
            advance(len(indices))
    tmp = cache.with_suffix(".partial")
    torch.save({"fingerprint": fingerprint, "logps": out}, tmp)
    tmp.replace(cache)
    return out
