"""`tuneforge quickstart [--output DIR]`: the main job, end to end on the embedded model."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("quickstart", help="fine-tune the embedded model on a built-in task, before/after")
    parser.add_argument("--output", default="quickstart-output", help="directory for data, run and results")
    parser.add_argument("--model", default=None, help="base model (default: the embedded SmolLM2-135M-Instruct)")
    parser.set_defaults(run=run)


def run(args) -> int:
    raise NotImplementedError
