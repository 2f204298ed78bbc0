"""Status messages go to stderr, so a command's stdout carries only its result; the
libraries underneath speak only when something is wrong."""

from __future__ import annotations

import logging
import os
import sys
import warnings

# kernels: bitsandbytes' CPU backend asks it for a hub kernel when it is imported (and
# transformers depends on it from 5.25), which logs a warning whenever the hub is offline.
LIBRARIES = (
    "accelerate", "bitsandbytes", "datasets", "huggingface_hub", "kernels", "peft", "torch",
)  # fmt: skip
VERBOSE = "TUNEFORGE_VERBOSE"
"""Set to 1 to see every library's warnings and logs again (when debugging them)."""


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def console(stderr: bool = False):
    """A rich console that prints strings exactly as given: user text and paths such
    as `[bold]`, `line 100: :100:` or `C:\\[x]` are never read as markup, emoji codes or
    things to highlight. Styled parts are passed as rich `Text`; long lines are not
    wrapped (a path must stay whole to be copied)."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=True)


def quiet_libraries() -> None:
    """Keep third-party warnings and log chatter off the default path: deprecation
    notices, tokenizer fork warnings, progress bars, and messages such as bitsandbytes'
    "Failed to load CPU gemm_4bit_forward" (logged when peft imports it, even for runs
    that never quantise) are nothing a user of TuneForge can act on. Errors still show.
    An explicit -W option or PYTHONWARNINGS, or TUNEFORGE_VERBOSE=1, wins."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if os.environ.get(VERBOSE) == "1":
        return
    # transformers sets its own level from this variable when it first logs.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # bitsandbytes is imported by peft itself whenever it is installed (the `qlora`
    # extra): peft/__init__ imports peft/helpers.py, which runs `import bitsandbytes` at
    # module level (as of peft 0.21), so `from peft import LoraConfig` loads it for a plain
    # LoRA run. Our code imports it only for quantize_4bit; keeping peft from importing
    # it would mean patching peft or hiding the installed package, so its logger is
    # lowered instead. An install without the extra never loads it.
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    if not sys.warnoptions:
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=r"tuneforge(\.|$)")
