"""`tuneforge quickstart [--output DIR]`: the main job, end to end on the embedded model."""

from __future__ import annotations

from tuneforge.models.registry import DEFAULT_MODEL


def register(sub) -> None:
    parser = sub.add_parser(
        "quickstart",
        help="fine-tune the embedded model on a built-in task and compare before/after",
    )
    parser.add_argument(
        "--output", default="quickstart-output", help="directory for data, run and results"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="base model (default: %(default)s)")
    parser.add_argument("--train-examples", type=int, default=200)
    parser.add_argument("--eval-examples", type=int, default=50)
    parser.set_defaults(run=run)


def run(args) -> int:
    from tuneforge.quickstart.run import run_quickstart

    run_quickstart(args.output, args.model, args.train_examples, args.eval_examples)
    return 0
