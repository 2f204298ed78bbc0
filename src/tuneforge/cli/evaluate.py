"""`tuneforge eval [CONFIG.yaml] [--model M] [--adapter RUN]... [--task KIND:PATH]...`, and
the regression report `tuneforge eval [CONFIG.yaml] --compare BASE --against RUN`."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "eval",
        help="evaluate a base model and its adapters (loss, generation, multiple choice, "
        "preference), or report a run against its base (--against)",
    )
    parser.add_argument(
        "config",
        nargs="?",
        help="YAML config (configs/eval/example.yaml shows every key; with --against, "
        "configs/report/example.yaml)",
    )
    parser.add_argument("--model", help="the base model (default: the adapters' own base)")
    parser.add_argument(
        "--adapter", action="append", dest="adapters", metavar="RUN",
        help="a run directory or adapter folder to evaluate beside the base; repeat for more",
    )  # fmt: skip
    parser.add_argument(
        "--task", action="append", dest="tasks", metavar="KIND:PATH",
        help="loss:FILE, generate:FILE, choice:FILE or preference:FILE; repeat for more "
        "(replaces the config's)",
    )  # fmt: skip
    parser.add_argument(
        "--output", help="folder for results.json and samples/ (a report: default RUN/eval)"
    )
    parser.add_argument("--batch-size", type=int, help="sequences per forward pass")
    parser.add_argument("--seed", type=int)
    report = parser.add_argument_group(
        "regression report", "base vs a run's product: task gain, general ability, overfitting"
    )
    report.add_argument(
        "--against", metavar="RUN",
        help="a run directory: report it against its base (the config is then a report config)",
    )  # fmt: skip
    report.add_argument(
        "--compare", metavar="BASE", help="the base to compare with (default: the run's own)"
    )
    report.add_argument(
        "--no-general-probe", action="store_true",
        help="skip the built-in KL-to-base and general-text perplexity probe",
    )  # fmt: skip
    parser.set_defaults(run=run)


def parse_task(text: str) -> dict[str, str]:
    from tuneforge.errors import ConfigError

    kind, sep, path = text.partition(":")
    if not sep or not kind or not path:
        raise ConfigError(f"--task {text!r}: expected KIND:PATH, e.g. loss:data/valid.jsonl")
    return {"kind": kind, "path": path}


def run(args) -> int:
    if args.against or args.compare:
        return run_report(args)
    from tuneforge.config.eval import EvalConfig
    from tuneforge.config.loading import load_yaml_into
    from tuneforge.errors import ConfigError
    from tuneforge.eval.run import evaluate
    from tuneforge.run_dir import check_writable

    flags = {
        "model": args.model,
        "adapters": args.adapters,
        "tasks": [parse_task(t) for t in args.tasks] if args.tasks else None,
        "output": args.output,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    cfg = load_yaml_into(
        EvalConfig, args.config, updates={k: v for k, v in flags.items() if v is not None}
    )
    if not cfg.tasks:
        raise ConfigError("no task to run: give --task KIND:PATH or `tasks:` in a config")
    for task in cfg.tasks:
        if not Path(task.path).is_file():
            raise ConfigError(f"task {task.label}: {task.path}: no such file")
    check_writable(Path(cfg.output).parent, "--output")
    results = evaluate(cfg)
    for model_id, entry in results["models"].items():
        print(model_id)
        for task, summary in entry["tasks"].items():
            shown = ", ".join(
                f"{name} {value:.4g} [{low:.4g}, {high:.4g}]"
                if value is not None and low is not None and high is not None
                else f"{name} {value}"
                for name, value in summary["metrics"].items()
                for low, high in [summary["ci"][name]]
            )
            print(f"  {task} (n={summary['n']}): {shown}")
    print(f"results: {Path(cfg.output) / 'results.json'}")
    return 0


def run_report(args) -> int:
    from tuneforge.config.loading import load_yaml_into
    from tuneforge.config.report import ReportConfig
    from tuneforge.errors import ConfigError
    from tuneforge.eval.report.compare import compare_run
    from tuneforge.eval.report.writing import summary_lines
    from tuneforge.run_dir import RunDir, check_writable

    if not args.against:
        raise ConfigError("--compare BASE needs --against RUN: the run to report on")
    if args.adapters or args.model:
        raise ConfigError("a report compares one run with its base: drop --model and --adapter")
    if not RunDir(Path(args.against)).is_run:
        raise ConfigError(f"--against {args.against}: not a run directory (no config.yaml)")
    flags = {
        "tasks": [parse_task(t) for t in args.tasks] if args.tasks else None,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "general_probe": False if args.no_general_probe else None,
    }
    cfg = load_yaml_into(
        ReportConfig, args.config, updates={k: v for k, v in flags.items() if v is not None}
    )
    for task in [*cfg.tasks, *cfg.general_tasks]:
        if not Path(task.path).is_file():
            raise ConfigError(f"task {task.label}: {task.path}: no such file")
    output = Path(args.output) if args.output else Path(args.against) / "eval"
    check_writable(output.parent, "--output")
    report = compare_run(args.against, cfg, base=args.compare, output=output)
    print("\n".join(summary_lines(report)))
    print(f"report: {output / 'report.md'}")
    return 0
