"""`tuneforge` entry point: one sub-command per module, each calling one library function."""

from __future__ import annotations

import argparse
import signal
import sys

from tuneforge import __version__
from tuneforge.cli import chat, data, generate, models, quickstart, train
from tuneforge.errors import TuneForgeError
from tuneforge.log import quiet_libraries

COMMANDS = (train, data, generate, chat, models, quickstart)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuneforge", description="Adapt open language models on your own hardware."
    )
    parser.add_argument("--version", action="version", version=f"tuneforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = build_parser().parse_args(argv)
    # `kill` (and a job cancelled by a scheduler) takes the same path as Ctrl-C, so a run
    # records status "interrupted" in summary.json instead of vanishing mid-write.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.run(args) or 0
    except TuneForgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
