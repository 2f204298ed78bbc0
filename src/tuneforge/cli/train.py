"""`tuneforge train CONFIG.yaml [key=value ...] [--resume]`."""

from __future__ import annotations

import json


def register(sub) -> None:
    parser = sub.add_parser("train", help="fine-tune a model from a YAML config")
    parser.add_argument(
        "config", help="YAML config (sections: model, adapter, data, method, train, output)"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="e.g. train.lr=1e-4 adapter.r=8"
    )
    parser.add_argument(
        "--resume", action="store_true",
        help="continue output.dir's run from its last checkpoint, with its settings: only "
        "when to log, evaluate and save, memory settings and a longer run may change",
    )  # fmt: skip
    parser.add_argument(
        "--no-preflight", action="store_true",
        help="skip the memory estimate that stops a run which would not fit",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args) -> int:
    from tuneforge.config import load_config
    from tuneforge.errors import TrainingPaused, TuneForgeError
    from tuneforge.eval.report.after_training import check_report_inputs, report_after_training
    from tuneforge.plan.preflight import preflight
    from tuneforge.train import pause, resolve_auto_settings, train

    cfg = load_config(args.config, args.overrides)
    check_report_inputs(cfg)
    cfg = resolve_auto_settings(cfg)
    if not args.no_preflight and not args.resume:
        preflight(cfg)
    pause.install()
    try:
        summary = train(cfg, resume=args.resume)
    except TrainingPaused as paused:  # asked for, so not an error: exit 0, status "paused"
        print(json.dumps({"status": "paused", "steps": paused.step}))
        return 0
    print(
        json.dumps(
            {
                k: summary[k]
                for k in (
                    "status",
                    "steps",
                    "final_loss",
                    "best_eval_loss",
                    "tokens_per_second",
                    "output",
                )
            },
            indent=2,
        )
    )
    if cfg.eval is not None:
        try:
            report_after_training(cfg)
        except TuneForgeError as exc:
            raise TuneForgeError(
                f"training completed ({summary['output']}), but its report failed: {exc}; "
                f"run it again with `tuneforge eval --against {cfg.output.dir}`"
            ) from exc
    return 0
