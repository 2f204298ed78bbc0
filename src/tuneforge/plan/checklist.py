"""The course's six checks before fine-tuning, each met, not_met or unknown with the
measured reason (plan.json's `checklist`). A check is unknown when its evidence was not
given, and the reason says how to give it.

1. prompt engineering has plateaued: from prompting scores, each (value, low, high) or
   an object with those attributes (decision.Score). Met when few-shot's value is not
   above the upper bound of the best example-free prompt (zero-shot, or the data's
   system prompt when scored and better), or when a fine-tune's interval lies wholly
   above the best prompting interval; not met when few-shot climbs past that bound.
2. data exists: the valid examples against the course's floor for the data's kind.
3. the task is well-defined: not met when CONTRADICTED or more of the examples share a
   prompt with different replies; met when replies are regular (data_profile.regular)
   or mostly grounded; unknown for free-form replies the prompts do not explain.
4. evaluation is ready: an eval file, else a held-out slice of the training data, of at
   least MIN_EVAL usable examples.
5. budget allows: the estimate (hours, cost) against the budget given for each.
6. knowledge is stable: met for behaviour (format, style), not met for knowledge, unknown
   between.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tuneforge.errors import DataError
from tuneforge.plan.data_profile import (
    BEHAVIOUR_KINDS,
    BEHAVIOUR_SHARE,
    EXAMPLE_RANGES,
    DataProfile,
    prompt_and_last_reply,
    read_sft,
    regular,
)
from tuneforge.suggest import did_you_mean

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
MIN_EVAL = 20
"""Fewer scored examples make an interval too wide to tell prompting from fine-tuning:
a 95% bootstrap interval of a pass/fail score at 50% spans about +-0.22 at 20 examples."""
CONTRADICTED = 0.02
"""Share of examples whose prompt has other replies elsewhere that makes a task ill-defined."""
BUDGET_UNITS = {"hours": "{:g} h", "cost": "US${:g}"}
"""The budget's keys: the most hours, the most money (the price's currency) a run may take."""
BUDGET_HINT = "state the most hours or money a run may take (max hours, max cost)"
Interval = tuple[float, float, float]


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def checklist(
    profile: DataProfile,
    scores: Mapping[str, Any] | None = None,
    budget: Mapping[str, float] | None = None,
    estimate: Any = None,
    eval_file: str | Path | None = None,
    held_out: int | None = None,
) -> list[CheckResult]:
    """The six checks in the course's order. `scores`: {"zero_shot", "system_prompt",
    "few_shot", "fine_tuned"} -> (value, low, high) or None; `budget`: {"hours", "cost"}
    -> the most allowed; `estimate`: a mapping or object with `hours` and `cost`;
    `held_out`: how many training examples are held out for scoring without `eval_file`."""
    return [
        plateaued(scores),
        data_exists(profile),
        well_defined(profile),
        evaluation_ready(eval_file, held_out),
        budget_allows(budget, estimate),
        knowledge_stable(profile),
    ]


def plateaued(scores: Mapping[str, Any] | None) -> CheckResult:
    check = "prompt engineering has plateaued"
    given = {name: i for name, s in (scores or {}).items() if (i := _interval(name, s))}
    prompting = {n: given[n] for n in ("zero_shot", "system_prompt", "few_shot") if n in given}
    if not prompting:
        reason = "no prompting scores: score zero-shot and few-shot prompts on held-out examples"
        return CheckResult(check, UNKNOWN, reason)
    best = max(prompting, key=lambda n: prompting[n][0])
    tuned = given.get("fine_tuned")
    if tuned and prompting[best][2] < tuned[1]:
        reason = (
            f"the best prompting, {_show(best, prompting[best])}, stays below the fine-tune, "
            f"{_show('fine_tuned', tuned)}: the intervals do not overlap"
        )
        return CheckResult(check, MET, reason)
    bases = [n for n in ("zero_shot", "system_prompt") if n in prompting]
    if "few_shot" not in prompting or not bases:
        missing = "few_shot" if "few_shot" not in prompting else "zero_shot"
        return CheckResult(check, UNKNOWN, f"no {missing} score to compare with")
    base = max(bases, key=lambda n: prompting[n][0])
    few = prompting["few_shot"]
    shown = f"{_show('few_shot', few)} against {_show(base, prompting[base])}"
    if few[0] <= prompting[base][2]:
        reason = f"{shown}: examples in the prompt gain nothing beyond {base}'s interval"
        return CheckResult(check, MET, reason)
    reason = f"{shown}: examples still help; try more of them or a better instruction first"
    return CheckResult(check, NOT_MET, reason)


def _interval(name: str, score: Any) -> Interval | None:
    if score is None:
        return None
    value, low, high = (
        (score.value, score.low, score.high) if hasattr(score, "value") else tuple(score)
    )
    if not low <= value <= high:
        raise ValueError(f"scores.{name}: expected value within [low, high], got {score!r}")
    return float(value), float(low), float(high)


def _show(name: str, interval: Interval) -> str:
    value, low, high = interval
    return f"{name} {value:.3f} [{low:.3f}, {high:.3f}]"


def data_exists(profile: DataProfile) -> CheckResult:
    check = "data exists"
    n, kind = profile.n_examples, profile.kind
    counted = f"{n:,} valid examples" + (
        f" ({profile.n_refused:,} records refused)" if profile.n_refused else ""
    )
    if not n:
        first = f": {profile.refusals[0]}" if profile.refusals else ""
        return CheckResult(check, NOT_MET, f"no valid examples{first}")
    if kind not in EXAMPLE_RANGES:
        reason = f"{counted}, none with a prompt and reply to tell the kind of task by"
        return CheckResult(check, UNKNOWN, reason)
    low, high = EXAMPLE_RANGES[kind]
    table = f"course: {low:,}-{high:,}" if high else f"course: {low:,}+, consider RAG"
    floor = f"the {low:,}-example floor for {kind} ({table})"
    if n < low:
        return CheckResult(check, NOT_MET, f"{counted}, {low - n:,} under {floor}")
    more = f"; more than {kind} usually needs" if high and n > high else ""
    return CheckResult(check, MET, f"{counted}, {n - low:,} over {floor}{more}")


def well_defined(profile: DataProfile) -> CheckResult:
    check = "the task is well-defined"
    m, found = profile.measures, profile.contradictions
    if not m.replies:
        return CheckResult(check, UNKNOWN, "no prompt and reply to judge the task by")
    share = found["examples"] / m.replies
    clash = (
        f"{found['prompts']:,} prompts have different replies ({found['examples']:,} of "
        f"{m.replies:,} examples, {share:.1%})"
    )
    if share >= CONTRADICTED:
        shown = "; ".join(repr(p) for p in found["shown"])
        reason = (
            f"{clash}, e.g. {shown}: one prompt with several answers can be neither learned "
            "nor scored; keep one reply per prompt"
        )
        return CheckResult(check, NOT_MET, reason)
    after = f"; {clash}" if found["prompts"] else ""
    if regular(m):
        reason = (
            f"regular replies: {m.json_share:.0%} JSON, {m.key_set_share:.0%} with one key set, "
            f"{m.template_share:.0%} of one shape{after}"
        )
        return CheckResult(check, MET, reason)
    if m.grounded_share >= BEHAVIOUR_SHARE:
        reason = f"{m.grounded_share:.0%} of replies grounded in their prompts{after}"
        return CheckResult(check, MET, reason)
    reason = (
        f"free-form replies ({m.json_share:.0%} JSON, {m.template_share:.0%} of one shape, "
        f"{m.grounded_share:.0%} grounded){after}: the data does not show what a correct "
        "reply is; write down how a reply is scored"
    )
    return CheckResult(check, UNKNOWN, reason)


def evaluation_ready(eval_file: str | Path | None, held_out: int | None) -> CheckResult:
    check = "evaluation is ready"
    if eval_file is not None:
        try:
            examples, refusals = read_sft(eval_file)
        except DataError as exc:
            return CheckResult(check, NOT_MET, f"eval file unreadable: {exc}")
        n = sum(prompt_and_last_reply(e) is not None for e in examples)
        refused = f" ({len(refusals):,} records refused)" if refusals else ""
        source = f"eval file {eval_file}: {n:,} examples with a reference reply{refused}"
    elif held_out is not None:
        n = held_out
        source = f"no eval file: {n:,} training examples held out and scored"
    else:
        reason = "no eval file and no held-out slice: give an eval file of prompts and replies"
        return CheckResult(check, NOT_MET, reason)
    if n < MIN_EVAL:
        wide = 1.96 * math.sqrt(0.25 / n) if n else math.inf
        reason = (
            f"{source}, under {MIN_EVAL}: a 95% interval of a pass/fail score at 50% "
            f"spans about +-{wide:.2f}"
        )
        return CheckResult(check, NOT_MET, reason)
    return CheckResult(check, MET, f"{source} (at least {MIN_EVAL})")


def budget_allows(budget: Mapping[str, float] | None, estimate: Any) -> CheckResult:
    check = "budget allows"
    limits = {k: v for k, v in (budget or {}).items() if v is not None}
    for key in limits:
        if key not in BUDGET_UNITS:
            raise ValueError(f"budget.{key}: {did_you_mean(key, list(BUDGET_UNITS), 'keys')}")
    if not limits:
        return CheckResult(check, UNKNOWN, f"no budget: {BUDGET_HINT}")
    over: list[str] = []
    within: list[str] = []
    missing: list[str] = []
    for key, limit in limits.items():
        shown = BUDGET_UNITS[key].format
        value = _estimated(estimate, key)
        if value is None:
            missing.append(f"no {key} estimate for the {shown(limit)} budget")
        else:
            words = f"estimated {shown(round(value, 2))} against the {shown(limit)} budget"
            (over if value > limit else within).append(words)
    found = "; ".join(over + within + missing)
    status = NOT_MET if over else UNKNOWN if missing else MET
    return CheckResult(check, status, found)


def _estimated(estimate: Any, key: str) -> float | None:
    value = estimate.get(key) if isinstance(estimate, Mapping) else getattr(estimate, key, None)
    return None if value is None else float(value)


def knowledge_stable(profile: DataProfile) -> CheckResult:
    check = "knowledge is stable"
    m = profile.measures
    if not m.replies:
        return CheckResult(check, UNKNOWN, "no prompt and reply to judge the data by")
    evidence = f"mean grounding {m.grounding_mean:.2f}, {m.grounded_share:.0%} of replies grounded"
    if profile.kind in BEHAVIOUR_KINDS:
        reason = f"{profile.kind} data ({evidence}): it teaches behaviour, nothing to go stale"
        return CheckResult(check, MET, reason)
    if profile.kind == "knowledge":
        reason = (
            f"facts in replies absent from prompts ({evidence}): consider RAG so updates do "
            "not need retraining"
        )
        return CheckResult(check, NOT_MET, reason)
    reason = (
        f"{profile.kind} data ({evidence}): terms stay, facts may not; if the answers change "
        "over time, consider RAG"
    )
    return CheckResult(check, UNKNOWN, reason)
