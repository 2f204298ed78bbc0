"""Is prompting enough? The base model scored on held-out examples as it would be used
without training (zero-shot, with the data's system prompt, few-shot), and optionally
after a short LoRA fine-tune, then the course's rule applied to the numbers.

The rule (stated in every plan): "if prompting achieves 85-90% of your goal the remaining
gap rarely justifies the cost". The goal is the quick fine-tune's score when one was run,
else a perfect score (every scorer here is bounded by 1). Prompting that reaches
REACHED (85%) of the goal: `prompt`; short of it on data that carries facts its prompts
lack: `rag`; short of it otherwise: `fine-tune`; nothing scored: `unknown`.

Few-shot examples come from the training data, never from the examples scored. The scorer
is chosen from the reference replies unless named: JSON objects -> field_accuracy, short
answers (a median of at most SHORT_WORDS words) -> normalised exact match, otherwise
ROUGE-L; the choice and its reason are printed and recorded.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tuneforge.data import ChatExample, CompletionExample, Example

REACHED = 0.85
SHORT_WORDS = 4
JSON_SHARE = 0.8
FEW_SHOT = 3
Conversation = list[dict[str, Any]]


@dataclass(frozen=True)
class Score:
    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class ScoredExample:
    prompt: Conversation
    """The turns before the reference, system turns included."""
    reference: str


def scored_examples(examples: Sequence[Example]) -> list[ScoredExample]:
    """Each SFT example as a prompt and the last assistant reply it should produce."""
    found = []
    for example in examples:
        if isinstance(example, CompletionExample):
            found.append(
                ScoredExample([{"role": "user", "content": example.prompt}], example.completion)
            )
        elif isinstance(example, ChatExample) and example.messages[-1].role == "assistant":
            *before, last = example.messages
            found.append(ScoredExample([m.as_template_dict() for m in before], last.content or ""))
    return found


def choose_scorer(references: Sequence[str]) -> tuple[str, dict[str, Any], str]:
    """(scorer name, its options, why) from what the references look like."""
    objects = [_json_object(r) for r in references]
    share = sum(o is not None for o in objects) / max(len(references), 1)
    if share >= JSON_SHARE:
        return "field_accuracy", {}, f"{share:.0%} of the references are JSON objects"
    words = statistics.median(len(r.split()) for r in references) if references else 0
    if words <= SHORT_WORDS:
        return "normalised", {}, f"short answers (median {words:g} words)"
    return "rouge_l", {}, f"free text (median {words:g} words)"


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def prompt_variants(
    scored: Sequence[ScoredExample], shots: Sequence[ScoredExample], k: int = FEW_SHOT
) -> dict[str, list[Conversation]]:
    """The conversations each prompting strategy sends: zero_shot (the user's turns only),
    system_prompt (as the data has them; left out when the data has no system turn), and
    few_shot (the system turn, then k example exchanges, then the user's turns)."""
    variants: dict[str, list[Conversation]] = {
        "zero_shot": [_without_system(s.prompt) for s in scored]
    }
    if any(_system(s.prompt) for s in scored):
        variants["system_prompt"] = [list(s.prompt) for s in scored]
    examples: Conversation = []
    for shot in shots[:k]:
        examples += [
            *_without_system(shot.prompt),
            {"role": "assistant", "content": shot.reference},
        ]
    if examples:
        variants["few_shot"] = [
            _system(s.prompt) + examples + _without_system(s.prompt) for s in scored
        ]
    return variants


def _system(prompt: Conversation) -> Conversation:
    return [m for m in prompt if m["role"] == "system"]


def _without_system(prompt: Conversation) -> Conversation:
    return [m for m in prompt if m["role"] != "system"]


def score_replies(
    replies: Sequence[str], references: Sequence[str], scorer: str, options: dict[str, Any],
    seed: int = 0,
) -> Score:  # fmt: skip
    from tuneforge.eval.scorers import get_scorer
    from tuneforge.eval.task import Metric

    score = get_scorer(scorer, **options)
    metric = Metric([float(score(r, ref)) for r, ref in zip(replies, references, strict=True)])
    low, high = metric.interval(seed)
    return Score(metric.value(), low, high, len(replies))


def decide(
    prompting: dict[str, Score], fine_tuned: Score | None, kind: str | None, scorer: str
) -> dict[str, Any]:
    """plan.json's `decision`: {"verdict", "scores", "rule", "reached"}."""
    scores = {name: asdict(s) for name, s in prompting.items()}
    if fine_tuned is not None:
        scores["fine_tuned"] = asdict(fine_tuned)
    if not prompting:
        rule = "no examples could be scored: give --eval or SFT training data"
        return {"verdict": "unknown", "scores": scores, "reached": None, "rule": rule}
    best_name = max(prompting, key=lambda name: prompting[name].value)
    best = prompting[best_name].value
    goal, goal_name = (fine_tuned.value, "the quick fine-tune's score") if fine_tuned else (
        1.0, "a perfect score (run --quick-tune to measure what fine-tuning reaches)"
    )  # fmt: skip
    reached = best / goal if goal > 0 else 1.0
    if reached >= REACHED:
        verdict = "prompt"
    elif kind == "knowledge":
        verdict = "rag"
    else:
        verdict = "fine-tune"
    rule = (
        f"prompting reaches {reached:.0%} of the goal ({best_name} {best:.3f} of {goal_name} "
        f"{goal:.3f}, scored by {scorer}); the course's rule: at {REACHED:.0%} or more, prompt "
        "(the remaining gap rarely justifies the cost); below it, fine-tune, or use RAG when "
        "the replies carry facts the prompts lack"
    )
    return {"verdict": verdict, "scores": scores, "rule": rule, "reached": reached}
