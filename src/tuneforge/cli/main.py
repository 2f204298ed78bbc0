"""`tuneforge` entry point: one sub-command per module, each calling one library function."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from tuneforge import __version__
from tuneforge.cli import (
    chat,
    data,
    evaluate,
    export,
    generate,
    keys,
    merge,
    models,
    plan,
    quickstart,
    serve,
    train,
)
from tuneforge.errors import TuneForgeError
from tuneforge.log import VERBOSE, quiet_libraries

COMMANDS = (
    train,
    data,
    evaluate,
    merge,
    export,
    generate,
    chat,
    models,
    plan,
    quickstart,
    serve,
    keys,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuneforge", description="Adapt open language models on your own hardware."
    )
    parser.add_argument("--version", action="version", version=f"tuneforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


# oneDNN and ideep cache a compiled matmul per shape, 1024 of each by default. Every
# micro-batch has its own token count, so in bf16 (where oneDNN runs the matmuls) the
# caches grew through a run: SFT peak RSS 3644 MB, 3042 MB with 64 entries, at the same
# speed and loss. Read when torch loads, so set before any command imports it.
TORCH_CACHE_ENTRIES = {"LRU_CACHE_CAPACITY": "64", "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "64"}


def main(argv: list[str] | None = None) -> int:
    for name, value in TORCH_CACHE_ENTRIES.items():
        os.environ.setdefault(name, value)  # a user's own setting wins
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
    except OSError as exc:
        # A full disk, a read-only folder, a missing file: the machine's problem, not a
        # bug, so one line naming the path (TUNEFORGE_VERBOSE=1 shows the traceback).
        if os.environ.get(VERBOSE) == "1":
            raise
        print(f"error: {os_problem(exc)}", file=sys.stderr)
        return 1


HINTS = {
    errno.ENOSPC: "free some space, or write to another disk",
    errno.EDQUOT: "free some space, or write to another disk",
    errno.EROFS: "choose another output folder",
    errno.EACCES: "check the permissions, or choose another folder",
    errno.EPERM: "check the permissions, or choose another folder",
}


def os_problem(exc: OSError) -> str:
    """An OSError as `path: what went wrong; what to do`."""
    what = (exc.strerror or str(exc)).rstrip(".")
    where = f"{exc.filename}: " if exc.filename else ""
    hint = HINTS.get(exc.errno or 0)
    return f"{where}{what[:1].lower()}{what[1:]}" + (f"; {hint}" if hint else "")


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
