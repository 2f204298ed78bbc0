"""The win rate of the evaluated model's replies over its base's: the preference task's
mode when it has a `judge`.

For each prompt of the file (what the generate task reads as prompts: every conversation
before its last assistant turn, so a pair's prompt too), the model and its base (the same
model with the adapter switched off) reply greedily, and the judge compares the two
replies: an LLM in both orders (llm.py) or a reward model (reward_model.py). Each pair's
outcome is 1 (the tuned reply wins), 0.5 (a tie) or 0 (the base's wins), and

    win_rate          = mean of the outcomes
    lc_win_rate       = the win rate at equal reply lengths (length_control.py)
    mean_length_tuned, mean_length_base = mean reply lengths, in characters

Characters, as AlpacaEval measures length: the same unit whatever the tokenizer. The base
itself, and a full fine-tuned model (whose base this task cannot reach), have no win rate:
the task says so in the log and its samples and reports no metric.
"""

from __future__ import annotations

from pathlib import Path

from tuneforge.eval.judge.length_control import length_controlled
from tuneforge.eval.task import Metric, TaskScores
from tuneforge.eval.tasks.generate import prompts_and_references
from tuneforge.eval.tasks.preference import has_base
from tuneforge.log import info

NO_BASE = (
    "no win rate: this is the base model (or a full fine-tuned one, whose base the task "
    "cannot reach), so there is no base reply to compare with"
)


def make_judge(config, batch_size: int):
    """The judge a config.eval.JudgeConfig names (the config allows exactly one)."""
    if config.reward_model is not None:
        from tuneforge.eval.judge.reward_model import RewardModelJudge

        return RewardModelJudge(config, batch_size)
    from tuneforge.eval.judge.llm import LLMJudge

    return LLMJudge(config)


def run_win_rate(
    model, tokenizer, path: Path, judge, *, max_new_tokens: int = 256, batch_size: int = 8
) -> TaskScores:
    from tuneforge.models.inference import generate_replies

    if not has_base(model):
        info(f"preference task on {path}: {NO_BASE}")
        return TaskScores({}, n=0, examples=[{"skipped": NO_BASE}])
    prompts, _ = prompts_and_references(path)
    judging = make_judge(judge, batch_size)  # before generating: a missing key fails fast
    tuned = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size=batch_size)
    with model.disable_adapter():
        base = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size=batch_size)
    outcomes, said = judging.compare(prompts, tuned, base)
    tuned_lengths, base_lengths = [float(len(t)) for t in tuned], [float(len(b)) for b in base]
    differences = [t - b for t, b in zip(tuned_lengths, base_lengths, strict=True)]
    control = length_controlled(outcomes, differences)
    metrics = {
        "win_rate": Metric(outcomes),
        "lc_win_rate": Metric(control.adjusted),
        "mean_length_tuned": Metric(tuned_lengths),
        "mean_length_base": Metric(base_lengths),
    }
    unreadable = sum(s.get("unreadable", 0) for s in said)
    if unreadable:
        info(f"preference task on {path}: {unreadable} unreadable verdicts, counted as ties")
    examples = [
        {"prompt": prompt[-1]["content"], "tuned": t, "base": b, "outcome": outcome} | details
        for prompt, t, b, outcome, details in zip(prompts, tuned, base, outcomes, said, strict=True)
    ]
    return TaskScores(metrics, n=len(prompts), examples=examples)
