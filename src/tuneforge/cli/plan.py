"""`tuneforge plan [CONFIG.yaml] [key=value ...] [--data TRAIN] [--eval EVAL] [--model M]
[--output DIR]`."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "plan",
        help="should you fine-tune, will it fit, what will it cost: measured on your data",
    )
    parser.add_argument(
        "config", nargs="?", help="a training config (the one `tuneforge train` takes)"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. adapter.type=qlora")
    parser.add_argument("--data", help="training data (data.train)")
    parser.add_argument("--eval", dest="eval_file", help="held-out examples to score prompting on")
    parser.add_argument(
        "--model", help="an alias, model folder or HF config folder (no weights needed)"
    )
    parser.add_argument(
        "--tokenizer", help="measure lengths with this tokenizer (default: the model's)"
    )
    parser.add_argument("--output", help="folder for plan.json and plan.md")
    parser.add_argument(
        "--scorer", help="score prompting with this scorer (default: chosen from the data)"
    )
    parser.add_argument(
        "--quick-tune", action="store_true", help="also run a short LoRA fine-tune and score it"
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=128, help="reply length limit when scoring prompting"
    )
    parser.add_argument("--no-prompting", action="store_true", help="skip scoring the base model")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default=None,
        help="where the run will train (default: here)",
    )
    parser.add_argument(
        "--device-profile",
        choices=("a100", "h100", "rtx4090", "rtx3060"),
        help="estimate time for this GPU",
    )
    parser.add_argument(
        "--measure", action="store_true", help="time a 10-step dry run on this machine"
    )
    parser.add_argument("--price-per-hour", type=float, help="US$ per hour of the machine")
    parser.add_argument("--max-hours", type=float, help="budget: the most hours a run may take")
    parser.add_argument("--max-cost", type=float, help="budget: the most money a run may cost")
    parser.set_defaults(run=run)


def run(args) -> int:
    import torch

    from tuneforge.config import load_config
    from tuneforge.errors import ConfigError
    from tuneforge.plan.report import print_plan
    from tuneforge.plan.run import run_plan

    overrides = list(args.overrides)
    if args.config and "=" in args.config and not Path(args.config).is_file():
        overrides.insert(0, args.config)  # no config file: the first word is an override
        args.config = None
    if args.data:
        overrides.append(f"data.train={args.data}")
    if args.model:
        overrides.append(f"model.name_or_path={args.model}")
    cfg = load_config(args.config, overrides)
    if cfg.data.train is None:
        raise ConfigError("no training data: give --data TRAIN or data.train in the config")
    budget = {
        k: v for k, v in (("hours", args.max_hours), ("cost", args.max_cost)) if v is not None
    }
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    plan = run_plan(
        cfg, args.eval_file, Path(args.output) if args.output else None,
        prompting=not args.no_prompting, quick_tune=args.quick_tune, scorer=args.scorer,
        device=device, device_profile=args.device_profile, measure=args.measure,
        price_per_hour=args.price_per_hour, budget=budget or None, tokenizer=args.tokenizer,
        max_new_tokens=args.max_new_tokens,
    )  # fmt: skip
    print_plan(plan)
    if args.output:
        print(f"plan: {Path(args.output) / 'plan.json'}, {Path(args.output) / 'plan.md'}")
    return 0
