"""What the paired methods (dpo, orpo, simpo, kto, reward) share: reading and tokenizing
their data, the DPO-family metrics, validation, and the start of a recipe."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuneforge.config import RunConfig
from tuneforge.data.pair_tokens import tokenize_pairs as tokenize_pair_sequences
from tuneforge.data.prompt_fit import fit_prompts
from tuneforge.data.readers import read_examples
from tuneforge.data.records import PreferenceExample
from tuneforge.errors import DataError
from tuneforge.train.loop import Evaluator, Metric, add_metrics, mean_metrics
from tuneforge.train.pair_batches import PairPlan, TokenizedPair
from tuneforge.train.session import Session, open_session
from tuneforge.train.setup import report_length_cuts, train_and_validation


@dataclass
class PairData:
    train: list[TokenizedPair]
    validation: list[TokenizedPair]
    dropped: int
    """Pairs with a reply truncated away entirely, or a prompt that could not fit."""
    truncated: int
    shortened_prompts: int = 0
    """Prompts that lost their oldest turns to fit (data/prompt_fit.py)."""

    def summary(self) -> dict[str, int]:
        return {
            "pairs": len(self.train),
            "validation_pairs": len(self.validation),
            "dropped_no_target": self.dropped,
            "truncated_sequences": self.truncated,
            "shortened_prompts": self.shortened_prompts,
        }


def load_pair_data(cfg: RunConfig, tokenizer) -> PairData:
    """Read the pairs (any preference format), hold out validation, fit long prompts,
    tokenize; every data error surfaces here, before a run directory or a model exists."""
    examples, validation = train_and_validation(
        cfg,
        lambda path: read_examples(path, kind="preference", format=cfg.data.format),
        "pairs.jsonl",
    )
    data = cfg.data
    fitted, fit = fit_prompts(
        examples, tokenizer, data.max_length, data.max_prompt_length, data.tool_format
    )
    train, dropped, truncated = tokenize_pairs(fitted, tokenizer, data.max_length, data.tool_format)
    if not train:
        raise DataError(
            data.train, None, None,
            f"no pair keeps a reply token within data.max_length={data.max_length}; "
            "raise data.max_length",
        )  # fmt: skip
    validation, _ = fit_prompts(
        validation, tokenizer, data.max_length, data.max_prompt_length, data.tool_format
    )
    val, _, _ = tokenize_pairs(validation, tokenizer, data.max_length, data.tool_format)
    return PairData(train, val, dropped + fit.dropped, truncated, fit.shortened)


def tokenize_pairs(
    pairs: list[PreferenceExample], tokenizer, max_length: int, tool_format: str = "template"
) -> tuple[list[TokenizedPair], int, int]:
    """(tokenized pairs, pairs dropped, sequences truncated). A pair is dropped when
    either reply has no token left within max_length."""
    kept, stats = tokenize_pair_sequences(pairs, tokenizer, max_length, tool_format)
    tokenized = [TokenizedPair(chosen, rejected, pair.margin) for pair, chosen, rejected in kept]
    return tokenized, len(pairs) - len(kept), stats.truncated


def reward_metrics(
    chosen_reward: torch.Tensor,
    rejected_reward: torch.Tensor,
    chosen_logp: torch.Tensor,
    rejected_logp: torch.Tensor,
) -> dict[str, float]:
    """Sums over the batch's pairs of the DPO-family metrics (the loop averages them):
    reward_accuracy, reward_margin, chosen/rejected reward and log-probability."""
    return {
        "reward_accuracy": float((chosen_reward > rejected_reward).sum()),
        "reward_margin": float((chosen_reward - rejected_reward).sum()),
        "chosen_reward": float(chosen_reward.sum()),
        "rejected_reward": float(rejected_reward.sum()),
        "chosen_logp": float(chosen_logp.detach().sum()),
        "rejected_logp": float(rejected_logp.detach().sum()),
    }


def pair_evaluator(session: Session, plan: PairPlan, loss_fn) -> Evaluator:
    """Validation over every pair: the training metrics, averaged, prefixed eval_; the
    best checkpoint has the lowest eval_loss."""

    model, device = session.model, session.accelerator.device

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        model.eval()
        loss, units = 0.0, 0
        totals: dict[str, Metric] = {}
        for batch in plan.in_order():
            with session.autocast():
                batch_loss, metrics = loss_fn(model, batch.to(device))
            loss += float(batch_loss)
            units += batch.n_units
            add_metrics(totals, metrics)
        return {"eval_loss": loss / units, **mean_metrics(totals, units, prefix="eval_")}

    return Evaluator(evaluate)


@dataclass
class PairTraining:
    """What a paired method's recipe starts from: a session and its batch plans."""

    session: Session
    data: PairData
    plan: PairPlan
    validation: PairPlan | None

    def evaluator(self, loss_fn) -> Evaluator | None:
        if self.validation is None:
            return None
        return pair_evaluator(self.session, self.validation, loss_fn)


def start_pair_training(
    cfg: RunConfig, resume: bool, log, load=None, scalar_head: bool = False, packable=True
) -> PairTraining:
    """Load and check the data (`load(cfg, tokenizer) -> PairData`, pairs by default)
    before the run directory exists, open the session, and plan the batches. With
    `data.packing` (and a method whose forward allows it), each batch's pairs are packed
    whole into rows: no compute on padding, the same sums."""
    from tuneforge.models import load_tokenizer

    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    data = (load or load_pair_data)(cfg, tokenizer)
    report_length_cuts(log, len(data.train), data.dropped, data.truncated, cfg.data.max_length)
    if data.shortened_prompts:
        log(
            f"{data.shortened_prompts} prompts shortened to fit data.max_length="
            f"{cfg.data.max_length} (oldest turns first, the system message kept)"
        )
    session = open_session(cfg, tokenizer, resume, log, scalar_head=scalar_head)
    pad, size, seed = tokenizer.pad_token_id, cfg.train.batch_size, cfg.train.seed
    width = 2 * cfg.data.max_length if packable and cfg.data.packing else None
    plan = PairPlan(data.train, size, pad, seed, cfg.data.group_by_length, pack_width=width)
    validation = PairPlan(data.validation, size, pad, seed) if data.validation else None
    return PairTraining(session, data, plan, validation)
