"""`tuneforge eval [CONFIG.yaml] [--model M] [--adapter RUN]... [--task KIND:PATH]...`."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    parser = sub.add_parser(
        "eval", help="evaluate a base model and its adapters on loss, generation and choice tasks"
    )
    parser.add_argument(
        "config", nargs="?", help="YAML config (configs/eval/example.yaml shows every key)"
    )
    parser.add_argument("--model", help="the base model (default: the adapters' own base)")
    parser.add_argument(
        "--adapter", action="append", dest="adapters", metavar="RUN",
        help="a run directory or adapter folder to evaluate beside the base; repeat for more",
    )  # fmt: skip
    parser.add_argument(
        "--task", action="append", dest="tasks", metavar="KIND:PATH",
        help="loss:FILE, generate:FILE or choice:FILE; repeat for more (replaces the config's)",
    )  # fmt: skip
    parser.add_argument("--output", help="folder for results.json and samples/")
    parser.add_argument("--batch-size", type=int, help="sequences per forward pass")
    parser.add_argument("--seed", type=int)
    parser.set_defaults(run=run)


def parse_task(text: str) -> dict[str, str]:
    from tuneforge.errors import ConfigError

    kind, sep, path = text.partition(":")
    if not sep or not kind or not path:
        raise ConfigError(f"--task {text!r}: expected KIND:PATH, e.g. loss:data/valid.jsonl")
    return {"kind": kind, "path": path}


def run(args) -> int:
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
