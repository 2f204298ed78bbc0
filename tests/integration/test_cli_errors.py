"""Bad configs and bad data stop `tuneforge train` before anything is written: one
clear message naming the file, line and field, exit code 1, no output directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY, chat_records, read_metrics, read_summary, write_jsonl, write_yaml
from tuneforge.cli.main import main

GOOD = chat_records(4)


@pytest.fixture
def project(tmp_path, monkeypatch, tokenizer):
    """A working directory with good data and a config; tests break one thing."""
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "train.jsonl", GOOD)
    write_yaml(
        tmp_path / "cfg.yaml",
        {
            "model": {"name_or_path": TINY},
            "data": {"train": "train.jsonl", "max_length": 64},
            "train": {"max_steps": 1, "batch_size": 2},
            "output": {"dir": "out"},
        },
    )
    return tmp_path


def fails_cleanly(capsys, *args: str) -> str:
    """Run the CLI expecting exit 1 with one error and no output dir; return stderr."""
    assert main(["train", "cfg.yaml", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("error: ") == 1, err
    assert "Traceback" not in err
    assert not Path("out").exists()
    return err


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "train:\n  lr: 1.0e-4\n  btach_size: 4\n",
            "cfg.yaml:3: train.btach_size: unknown key; did you mean 'batch_size'?",
        ),
        (
            "train:\n  max_steps: many\n",
            "cfg.yaml:2: train.max_steps: expected an integer, got 'many'",
        ),
        ("adapter:\n  type: lorra\n", "cfg.yaml:2: adapter.type: got 'lorra', expected one of"),
        ("model: [a, b]\n", "cfg.yaml:1: model:"),
    ],
    ids=["unknown-key", "wrong-type", "bad-literal", "not-a-section"],
)
def test_config_errors(project, capsys, config, expected):
    (project / "cfg.yaml").write_text(config + "output:\n  dir: out\n")
    assert expected in fails_cleanly(capsys)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.lr", "override 'train.lr': expected section.key=value"),
        ("train.batch_szie=2", "train.batch_szie: unknown key; did you mean 'batch_size'?"),
        ("data.packing=sometimes", "data.packing: expected true or false, got 'sometimes'"),
    ],
)
def test_override_errors(project, capsys, override, expected):
    assert expected in fails_cleanly(capsys, override)


BAD_LINES = [
    ("{oops", None, "malformed JSON"),
    ('{"prompt": "p"}', "completion", "missing"),
    ('{"messages": [{"role": "bot", "content": "x"}]}', "messages[0].role", "unknown role"),
    ('{"messages": []}', "messages", "empty conversation"),
    ('{"messages": [{"role": "user", "content": ["x"]}]}', "messages[0].content", "string"),
    ('{"messages": [{"role": "user", "content": "x"}]}', "messages", "no assistant message"),
]


@pytest.mark.parametrize(("line", "field", "message"), BAD_LINES)
def test_bad_training_data(project, capsys, line, field, message):
    write_jsonl(project / "train.jsonl", [*GOOD[:2], line, *GOOD[2:]])
    err = fails_cleanly(capsys)
    where = f"train.jsonl:3: {field}: " if field else "train.jsonl:3: "
    assert err.startswith(f"error: {where}") and message in err


def test_bad_validation_data(project, capsys):
    write_jsonl(project / "valid.jsonl", [GOOD[0], '{"text": 3}'])
    err = fails_cleanly(capsys, "data.validation=valid.jsonl")
    assert err == "error: valid.jsonl:2: text: expected a string, got int\n"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.name_or_path=./no/such/model", "model './no/such/model': no such folder"),
        ("model.name_or_path=nobody/no-model", "model 'nobody/no-model' could not be loaded"),
        ("data.train=missing.jsonl", "missing.jsonl: file not found"),
        ("data.train=null", "data.train: missing: set the training data"),
        ("data.max_length=4", "no example has a trained token within data.max_length=4"),
    ],
)
def test_missing_inputs(project, capsys, override, expected):
    assert expected in fails_cleanly(capsys, override)


def test_subprocess_exit_code_and_single_message(project):
    """The real entry point: exit status 1 and one line on stderr, no traceback."""
    (project / "cfg.yaml").write_text("trian:\n  lr: 1\noutput:\n  dir: out\n")
    tuneforge = Path(sys.executable).parent / "tuneforge"
    result = subprocess.run(
        [str(tuneforge), "train", "cfg.yaml"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: invalid config\n  cfg.yaml:1: trian: unknown key; did you mean 'train'?\n"
    )
    assert result.stdout == "" and not Path("out").exists()


def test_an_override_is_blamed_not_the_yaml_line_it_replaced(project, capsys):
    (project / "cfg.yaml").write_text("train:\n  lr: 1.0e-4\noutput:\n  dir: out\n")
    err = fails_cleanly(capsys, "train.lr=-1", "train.lrr=2")
    assert "command-line override train.lr: expected a number > 0.0, got -1" in err
    assert "command-line override train.lrr: unknown key; did you mean 'lr'?" in err
    assert "cfg.yaml:" not in err


def test_resume_refuses_a_changed_run_and_records_an_accepted_change(project, capsys):
    """A resume may not change what the run computes (train.lr): refused, with the key,
    and not one byte of the run changes. It may change when rows are logged: accepted,
    and the change is an event row at the resume step."""
    common = ["train.max_steps=4", "train.save_every=2", "train.log_every=1",
              "train.mixed_precision=no"]  # fmt: skip
    assert main(["train", "cfg.yaml", *common]) == 0
    capsys.readouterr()
    run = project / "out"
    files = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}

    assert main(["train", "cfg.yaml", *common, "train.lr=1e-3", "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot resume out: these settings differ"), err
    assert "\n  train.lr: 0.0002 -> 0.001\n" in err and "Traceback" not in err
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == files

    assert main(["train", "cfg.yaml", *common[:3], "train.log_every=2",
                 "train.mixed_precision=no", "--resume"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "resuming at step 2 of 4" in err
    assert "resuming with changed settings: train.log_every 1 -> 2" in err
    rows = read_metrics(run)
    events = [row for row in rows if "event" in row]
    assert events == [{"event": "resumed", "step": 2, "changed": {"train.log_every": [1, 2]}}]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 4]  # logged every 2 from 2 on
    assert "log_every: 2" in (run / "config.yaml").read_text()
    assert read_summary(run)["status"] == "completed"
