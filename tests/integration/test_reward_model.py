"""A reward model learns a synthetic preference and loads back for scoring."""

from __future__ import annotations

import random

from tests.helpers import WORDS, read_metrics, tiny_config, write_jsonl
from tuneforge.models.reward import load_reward_model, score_conversations
from tuneforge.train import train

GOOD = ["great", "helpful", "clear", "kind", "correct", "useful"]
BAD = ["awful", "rude", "wrong", "useless", "confusing", "lazy"]


def pairs(n: int, seed: int) -> list[dict]:
    """Replies share random filler; the chosen one carries a good word, the rejected a bad
    one, so the preference is learnable but not a constant string."""
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        filler = " ".join(rng.choice(WORDS) for _ in range(6))
        records.append(
            {
                "prompt": f"Say something about {rng.choice(WORDS)}.",
                "chosen": f"{filler} {rng.choice(GOOD)}.",
                "rejected": f"{filler} {rng.choice(BAD)}.",
            }
        )
    return records


def test_reward_model_reaches_90_percent_held_out_accuracy(tmp_path):
    train_file = write_jsonl(tmp_path / "train.jsonl", pairs(64, seed=0))
    held_out = write_jsonl(tmp_path / "held_out.jsonl", pairs(32, seed=1))
    cfg = tiny_config(
        train_file, tmp_path / "rm", "method.name=reward", f"data.validation={held_out}",
        "train.lr=5e-3", "train.epochs=3", "train.max_steps=null", "train.batch_size=8",
        "train.eval_every=24",
    )  # fmt: skip
    summary = train(cfg)
    final_eval = [r for r in read_metrics(tmp_path / "rm") if "eval_loss" in r][-1]
    assert summary["status"] == "completed"
    assert final_eval["eval_accuracy"] > 0.9

    model, tokenizer = load_reward_model(tmp_path / "rm")
    record = pairs(1, seed=7)[0]
    prompt = {"role": "user", "content": record["prompt"]}
    chosen, rejected = score_conversations(
        model, tokenizer,
        [[prompt, {"role": "assistant", "content": record[k]}] for k in ("chosen", "rejected")],
    )  # fmt: skip
    assert chosen > rejected
