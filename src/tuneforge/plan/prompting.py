"""The measurements behind the decision (decision.py): the base model's replies to the
held-out prompts under each prompting strategy, and with `quick_tune` a short LoRA run's.

Held-out examples are the eval file's, or the last HOLD_OUT share of the training data
(at least MIN_HELD_OUT, at most MAX_HELD_OUT examples), which then neither trains the quick
run nor serves as a few-shot example.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.data import read_examples
from tuneforge.log import info
from tuneforge.plan.decision import (
    FEW_SHOT,
    Score,
    ScoredExample,
    choose_scorer,
    prompt_variants,
    score_replies,
    scored_examples,
)

HOLD_OUT = 0.1
MIN_HELD_OUT, MAX_HELD_OUT = 20, 100
QUICK_TUNE_STEPS = 40


@dataclass
class PromptingResult:
    scores: dict[str, Score]
    fine_tuned: Score | None
    scorer: str
    scorer_reason: str
    held_out: str
    """Where the scored examples came from."""


def measure_prompting(
    model: str, train: str, eval_file: str | None = None, scorer: str | None = None,
    quick_tune: bool = False, max_new_tokens: int = 128, batch_size: int = 16, k: int = FEW_SHOT,
    log=info,
) -> PromptingResult:  # fmt: skip
    pool = scored_examples(read_examples(train, kind="sft"))
    if eval_file:
        held = scored_examples(read_examples(eval_file, kind="sft"))
        where = f"{len(held)} examples of {eval_file}"
    else:
        n = min(MAX_HELD_OUT, max(MIN_HELD_OUT, round(HOLD_OUT * len(pool))))
        pool, held = pool[:-n], pool[-n:]
        where = f"the last {len(held)} examples of {train} (held out of training and few-shot)"
    references = [s.reference for s in held]
    name, options, reason = (
        (scorer, {}, "named by --scorer") if scorer else choose_scorer(references)
    )
    log(f"plan: scoring {where} with {name} ({reason})")
    scores = _prompting_scores(model, held, pool, name, options, max_new_tokens, batch_size, k, log)
    tuned = None
    if quick_tune:
        tuned = _quick_tune(model, pool, held, name, options, max_new_tokens, batch_size, log)
    return PromptingResult(scores, tuned, name, reason, where)


def _prompting_scores(
    model: str, held: list[ScoredExample], pool: list[ScoredExample], scorer: str,
    options: dict[str, Any], max_new_tokens: int, batch_size: int, k: int, log,
) -> dict[str, Score]:  # fmt: skip
    from tuneforge.models.inference import generate_replies, load_for_inference

    loaded, tokenizer = load_for_inference(model, log=log)
    references = [s.reference for s in held]
    scores = {}
    for variant, conversations in prompt_variants(held, pool, k).items():
        log(f"plan: {variant} on {len(conversations)} prompts")
        replies = generate_replies(
            loaded, tokenizer, conversations, max_new_tokens, batch_size=batch_size
        )
        scores[variant] = score_replies(replies, references, scorer, options)
    return scores


def _quick_tune(
    model: str, pool: list[ScoredExample], held: list[ScoredExample], scorer: str,
    options: dict[str, Any], max_new_tokens: int, batch_size: int, log,
) -> Score:  # fmt: skip
    """A short LoRA run (QUICK_TUNE_STEPS steps, the quickstart's settings) on the pool,
    scored on the held-out prompts as the data writes them."""
    import json

    from tuneforge.config import RunConfig
    from tuneforge.models.inference import generate_replies, load_for_inference
    from tuneforge.train import train

    with tempfile.TemporaryDirectory(prefix="tuneforge-plan-") as scratch:
        data = Path(scratch) / "train.jsonl"
        records = [
            {"messages": [*s.prompt, {"role": "assistant", "content": s.reference}]} for s in pool
        ]
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        cfg = RunConfig.model_validate({
            "model": {"name_or_path": model},
            "adapter": {"type": "lora", "r": 16, "alpha": 32},
            "data": {"train": str(data), "max_length": 512},
            "train": {"max_steps": QUICK_TUNE_STEPS, "batch_size": 8, "lr": 1e-3, "log_every": 10},
            "output": {"dir": str(Path(scratch) / "run")},
        })  # fmt: skip
        log(f"plan: quick LoRA fine-tune, {QUICK_TUNE_STEPS} steps on {len(pool)} examples")
        train(cfg)
        loaded, tokenizer = load_for_inference(model, Path(scratch) / "run", log=log)
        replies = generate_replies(
            loaded, tokenizer, [s.prompt for s in held], max_new_tokens, batch_size=batch_size
        )
    return score_replies(replies, [s.reference for s in held], scorer, options)
