"""`tuneforge plan`: should you fine-tune at all, what will it cost, will it fit, answered
from the user's own data and machine; written to DIR/plan.json and DIR/plan.md:

    {"decision": {"verdict", "scores", "rule", "reached", "scorer", "held_out"},
     "data": {...the profile: kind, grounding, format regularity, counts...},
     "checklist": [{"check", "status", "reason"}],
     "memory": {"peak_bytes", "parts": {NAME: BYTES}, "device", "fits", ...},
     "time": {...}, "cost": {...}}
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.plan.time_cost import PROFILES, TimeCost, profile_throughput, time_and_cost

DRY_RUN_STEPS = 10


def run_plan(
    cfg: RunConfig,
    eval_file: str | None = None,
    output: Path | None = None,
    prompting: bool = True,
    quick_tune: bool = False,
    scorer: str | None = None,
    device: str = "cpu",
    device_profile: str | None = None,
    measure: bool = False,
    price_per_hour: float | None = None,
    budget: dict[str, float] | None = None,
    tokenizer: str | None = None,
    max_new_tokens: int = 128,
    log=info,
) -> dict[str, Any]:
    from tuneforge.plan.architecture import architecture_of
    from tuneforge.plan.checklist import checklist
    from tuneforge.plan.data_profile import profile_data
    from tuneforge.plan.lengths import measure_lengths
    from tuneforge.plan.memory import estimate
    from tuneforge.train.methods.registry import METHODS

    assert cfg.data.train is not None
    sft = METHODS[cfg.method.name].data == "sft"
    profile = profile_data(cfg.data.train, cfg.data.format) if sft else None
    decision, held_out, score_map = _decision(
        cfg, eval_file, prompting and sft, quick_tune, scorer, profile, max_new_tokens, log
    )
    lengths = measure_lengths(cfg, tokenizer, log)
    architecture = architecture_of(cfg.model.name_or_path)
    memory = estimate(architecture, cfg, lengths.lengths, device, trained=lengths.trained)
    epochs = _epochs(cfg, lengths.examples)
    timing = _time(cfg, architecture.parameters, lengths.tokens_per_epoch, epochs, device_profile,
                   measure, price_per_hour, log)  # fmt: skip
    checks = checklist(profile, score_map, budget, timing, eval_file, held_out) if profile else []
    plan = {
        "decision": decision,
        "data": asdict(profile) if profile else None,
        "checklist": [asdict(c) for c in checks],
        "memory": memory.as_dict() | {"device": device, "lengths_note": lengths.note},
        "time": {k: v for k, v in timing.as_dict().items() if k not in ("price_per_hour", "cost")},
        "cost": {"price_per_hour": timing.price_per_hour, "cost": timing.cost},
    }
    if output is not None:
        write_plan(plan, Path(output))
    return plan


def _decision(cfg, eval_file, prompting, quick_tune, scorer, profile, max_new_tokens, log):
    from tuneforge.plan.decision import decide

    if not prompting:
        why = "not measured (--no-prompting, or the method does not learn from SFT data)"
        return {"verdict": "unknown", "scores": {}, "rule": why, "reached": None}, None, None
    from tuneforge.plan.prompting import measure_prompting

    result = measure_prompting(
        cfg.model.name_or_path, str(cfg.data.train), eval_file, scorer, quick_tune,
        max_new_tokens=max_new_tokens, log=log,
    )  # fmt: skip
    decision = decide(
        result.scores, result.fine_tuned, profile.kind if profile else None, result.scorer
    )
    decision |= {
        "scorer": result.scorer,
        "scorer_reason": result.scorer_reason,
        "held_out": result.held_out,
    }
    score_map = {name: (s.value, s.low, s.high) for name, s in result.scores.items()}
    if result.fine_tuned is not None:
        f = result.fine_tuned
        score_map["fine_tuned"] = (f.value, f.low, f.high)
    held = None if eval_file else next(iter(result.scores.values())).n
    return decision, held, score_map


def _epochs(cfg: RunConfig, examples: int) -> int:
    from tuneforge.plan.auto import auto_n_epochs

    epochs = cfg.train.epochs
    return auto_n_epochs(examples) if epochs == "auto" else int(epochs)


def _time(
    cfg: RunConfig, parameters: int, tokens: int, epochs: int, device_profile: str | None,
    measure: bool, price: float | None, log,
) -> TimeCost:  # fmt: skip
    if measure:
        rate = dry_run_throughput(cfg, log)
        return time_and_cost(
            tokens, epochs, rate, f"measured: a {DRY_RUN_STEPS}-step dry run here", price
        )
    if device_profile:
        profile = PROFILES[device_profile]
        rate = profile_throughput(profile, parameters, cfg.adapter.type)
        price = profile.price_per_hour if price is None else price
        return time_and_cost(
            tokens,
            epochs,
            rate,
            f"profile {profile.name}: {profile.bf16_tflops:g} TFLOPS x MFU 0.4",
            price,
        )
    return time_and_cost(
        tokens, epochs, None, "unknown: give --measure (a dry run here) or --device-profile", price
    )


def dry_run_throughput(cfg: RunConfig, log) -> float:
    """Tokens per second of DRY_RUN_STEPS optimizer steps of this very config here."""
    from tuneforge.train import train

    with tempfile.TemporaryDirectory(prefix="tuneforge-plan-dry-") as scratch:
        dry = cfg.model_copy(deep=True)
        quiet = {"max_steps": DRY_RUN_STEPS, "eval_every": None, "save_every": None}
        dry.train = dry.train.model_copy(update=quiet | {"early_stopping_patience": None})
        dry.output = dry.output.model_copy(
            update={"dir": str(Path(scratch) / "run"), "overwrite": True}
        )
        dry.eval = None
        log(f"plan: measuring throughput with a {DRY_RUN_STEPS}-step dry run")
        summary = train(dry)
    return float(summary["tokens_per_second"])


def write_plan(plan: dict[str, Any], folder: Path) -> None:
    from tuneforge.plan.report import plan_markdown

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.json").write_text(json.dumps(plan, indent=2, default=str) + "\n")
    (folder / "plan.md").write_text(plan_markdown(plan))
