"""Every bad input a person is likely to give the CLI ends in one message that says
what is wrong, a non-zero exit, no traceback and no half-written output; and user
text (paths, records) is printed as it is, never read as rich markup or emoji codes.

The train cases of test_cli_errors.py check the exact message for config and data
mistakes; this table covers each command and the machine's own failures (read-only
folders, a full disk, Ctrl-C). It runs the real entry point in-process, so an
exception that escapes fails the test with its traceback.
"""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import TINY, chat_records, write_jsonl, write_yaml
from tuneforge.cli.main import main

TRAIN = ("train", "cfg.yaml")
PREPARE = ("data", "prepare", "chat.jsonl", "-o", "prep", "--num-proc", "1", "--model", TINY)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def project(tmp_path, monkeypatch, tokenizer):
    """A working directory with good data and a config; each case breaks one thing."""
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "train.jsonl", chat_records(4))
    write_jsonl(tmp_path / "chat.jsonl", chat_records(12, seed=1))
    write_yaml(
        tmp_path / "cfg.yaml",
        {
            "model": {"name_or_path": TINY},
            "data": {"train": "train.jsonl", "max_length": 64},
            "train": {"max_steps": 1, "batch_size": 2, "lr": 1e-4},
            "output": {"dir": "out"},
        },
    )
    (tmp_path / "afile").write_text("not a folder\n")
    return tmp_path


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """Exit status and everything printed (argparse's own errors exit 2)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def write(name: str, text: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    return lambda root, monkeypatch: (root / name).write_text(text)


def read_only(name: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (root / name).mkdir()
        (root / name).chmod(0o555)

    return setup


def disk_full(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC where a real full disk showed it: closing a file (PIL's, for a plot),
    with no file name attached."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tuneforge.data.prepare.report.write_plots", full)


def ctrl_c(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C as the first chunk of records is counted, mid-prepare."""

    @contextmanager
    def interrupted():
        def advance(n: int) -> None:
            raise KeyboardInterrupt

        yield advance

    monkeypatch.setattr("tuneforge.cli.data._records_progress", interrupted)


@dataclass
class Case:
    id: str
    argv: tuple[str, ...]
    expected: str
    setup: Callable[[Path, pytest.MonkeyPatch], None] | None = None
    code: int = 1
    skip_as_root: bool = False
    """chmod does not stop root: such a case runs as an ordinary user only."""


CASES = [
    # train: config mistakes
    Case("missing-config", ("train", "nope.yaml"), "error: nope.yaml: config file not found"),
    Case("yaml-syntax", TRAIN, "error: cfg.yaml:3: not valid YAML: ",
         write("cfg.yaml", "train:\n  lr: [1\noutput: {dir: out}\n")),
    Case("unknown-method", (*TRAIN, "method.name=magic"),
         "command-line override method.name: got 'magic', expected one of ('dpo',"),
    Case("unknown-method-in-yaml", TRAIN, "cfg.yaml:2: method.name: got 'magic'",
         write("cfg.yaml", "method:\n  name: magic\noutput: {dir: out}\n")),
    Case("override-typo", (*TRAIN, "train.lrr=1e-4"),
         "command-line override train.lrr: unknown key; did you mean 'lr'?"),
    Case("negative-lr-override", (*TRAIN, "train.lr=-1"),
         "command-line override train.lr: expected a number > 0.0, got -1"),
    Case("negative-lr-in-yaml", TRAIN, "cfg.yaml:3: train.lr: expected a number > 0.0, got -1",
         write("cfg.yaml", "train:\n  max_steps: 1\n  lr: -1\noutput: {dir: out}\n")),
    # train: data mistakes
    Case("missing-data", (*TRAIN, "data.train=missing.jsonl"), "missing.jsonl: file not found"),
    Case("malformed-jsonl-line", TRAIN, "error: train.jsonl:2: malformed JSON",
         write("train.jsonl", '{"text": "fine"}\n{"text": "torn\n{"text": "fine"}\n')),
    # train: the run directory
    Case("resume-a-missing-run", (*TRAIN, "--resume"),
         "--resume: out does not exist, so there is no run to continue"),
    Case("resume-a-folder-that-is-no-run", (*TRAIN, "--resume"),
         "--resume: out is not a run directory (it has no config.yaml)",
         lambda root, mp: (root / "out").mkdir()),
    Case("train-output-under-a-file", (*TRAIN, "output.dir=afile/run"),
         "output.dir afile/run: "),
    Case("train-output-read-only", (*TRAIN, "output.dir=locked/run"),
         "output.dir locked/run: cannot write in ", read_only("locked"), skip_as_root=True),
    # data prepare
    Case("prepare-missing-input", ("data", "prepare", "none.jsonl", "-o", "prep"),
         "none.jsonl: file not found"),
    Case("prepare-format-of-other-data", (*PREPARE, "--format", "alpaca"),
         "chat.jsonl: no record survived"),
    Case("prepare-sft-data-as-preference", (*PREPARE, "--kind", "preference"),
         "chat.jsonl: no record survived"),
    Case("prepare-split-of-two-numbers", (*PREPARE, "--split", "0.9,0.1"),
         "argument --split: expected three fractions train,validation,test", code=2),
    Case("prepare-split-not-summing-to-one", (*PREPARE, "--split", "0.5,0.2,0.2"),
         "command-line option --split: expected train,validation,test fractions summing to 1"),
    Case("prepare-output-under-a-file", ("data", "prepare", "chat.jsonl", "-o", "afile/prep"),
         "--out afile/prep: "),
    Case("prepare-output-read-only", ("data", "prepare", "chat.jsonl", "-o", "locked/prep"),
         "--out locked/prep: cannot write in ", read_only("locked"), skip_as_root=True),
    Case("prepare-disk-full", PREPARE,
         "error: no space left on device (writing prep); free some space", disk_full),
    Case("prepare-ctrl-c", PREPARE, "interrupted", ctrl_c, code=130),
    # generate and validate
    Case("generate-missing-adapter", ("generate", "--adapter", "no/run", "--prompt", "hi"),
         "error: no/run: no such folder (expected a run directory or an adapter)"),
    Case("generate-adapter-not-a-run", ("generate", "--adapter", ".", "--prompt", "hi"),
         "error: .: neither a run directory (with adapter/ or model/) nor an adapter folder"),
    Case("validate-missing-file", ("data", "validate", "none.jsonl"),
         "error: none.jsonl: file not found"),
    # A prompt past the bounded count (4,097 tokens): the pair comes back untokenized.
    Case("validate-trained-tokens-beyond-the-count", ("data", "validate", "long.jsonl",
         "--method", "dpo", "--model", TINY), "error long.jsonl:2: prompt + chosen: too long",
         write("long.jsonl", json.dumps({"prompt": "Short?", "chosen": "Yes.", "rejected": "No."})
               + "\n" + json.dumps({"prompt": "word " * 5000, "chosen": "Yes.", "rejected": "No."})
               + "\n")),
    Case("validate-max-length-not-positive", ("data", "validate", "chat.jsonl", "--max-length",
         "-5"), "argument --max-length: expected a positive whole number, got '-5'", code=2),
    Case("inspect-count-not-positive", ("data", "inspect", "chat.jsonl", "--model", TINY, "-n",
         "0"), "argument -n: expected a positive whole number, got '0'", code=2),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_one_message_and_a_nonzero_exit(project, capsys, monkeypatch, case):
    if case.skip_as_root and IS_ROOT:
        pytest.skip("root writes into read-only folders")
    if case.setup:
        case.setup(project, monkeypatch)
    before = sorted(p.name for p in project.iterdir())
    code, printed = run_cli(capsys, *case.argv)
    assert code == case.code, printed
    assert "Traceback" not in printed
    assert case.expected in printed, printed
    assert sorted(p.name for p in project.iterdir()) == before  # nothing left behind
    if (project / "out").is_dir():
        assert list((project / "out").iterdir()) == []


def test_user_text_in_a_data_report_is_printed_verbatim(project, capsys):
    """`[bold]` is rich markup and `:100:` an emoji code: a path or record holding them
    must print as typed."""
    name = "[bold]x:100:.jsonl"
    write_jsonl(project / name, [*chat_records(1), {"messages": [{"role": "[red]boss:100:"}]}])
    code, printed = run_cli(capsys, "data", "validate", name)
    assert code == 1
    assert f"error {name}:2: messages[0].role: unknown role '[red]boss:100:'" in printed
    assert f"{name}: 2 records, 1 valid, 1 errors" in printed


def test_paths_in_the_prepare_summary_are_printed_verbatim(project, capsys):
    out = "[red]prep:100:"
    code, printed = run_cli(capsys, *PREPARE[:4], out, *PREPARE[5:])
    assert code == 0, printed
    assert f"(sft) to {out} in " in printed and f"report: {out}/report.html" in printed


def test_training_rows_on_a_terminal_are_printed_verbatim(monkeypatch):
    from tuneforge.train.progress import TrainingProgress

    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the console as a terminal
    monkeypatch.setenv("COLUMNS", "200")
    progress = TrainingProgress(3)
    assert progress.interactive
    progress.console.file = io.StringIO()
    progress.log({"step": 1, "note": "[bold]x:100:"})
    assert "step=1  note=[bold]x:100:" in progress.console.file.getvalue()
