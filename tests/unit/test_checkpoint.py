"""Checkpoints are complete or absent: a kill mid-write leaves only `step-N.partial/`,
which resume ignores; a complete one restores weights, optimizer, schedule and RNG."""

from __future__ import annotations

import json

import pytest
import torch

from tuneforge.errors import TuneForgeError
from tuneforge.run_dir import latest_checkpoint
from tuneforge.train.checkpoint import load_checkpoint, prune_checkpoints, save_checkpoint


def components(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    model[0].requires_grad_(False)  # a frozen part, like a base model under an adapter
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (step + 1))
    return model, optimizer, scheduler


def take_step(model, optimizer, scheduler) -> None:
    model(torch.randn(3, 4)).pow(2).sum().backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


class ExplodingOptimizer:
    """Fails while the checkpoint is half written (after the weights, before state)."""

    def state_dict(self):
        raise OSError("disk full")


def test_round_trip_restores_training_exactly(tmp_path):
    model, optimizer, scheduler = components()
    take_step(model, optimizer, scheduler)
    path = save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {"epoch": 0})
    assert path == tmp_path / "step-1"
    assert {p.name for p in path.iterdir()} == {
        "trainable.safetensors", "optimizer.pt", "state.json"
    }  # fmt: skip
    take_step(model, optimizer, scheduler)
    expected = [p.clone() for p in model.parameters()]

    restored, optimizer2, scheduler2 = components()
    with torch.no_grad():
        restored[1].weight.zero_()  # trainable weights must come from the checkpoint
    torch.manual_seed(123)  # and so must the RNG
    state = load_checkpoint(path, restored, optimizer2, scheduler2)
    assert state == {"epoch": 0, "step": 1}
    take_step(restored, optimizer2, scheduler2)
    for mine, theirs in zip(restored.parameters(), expected, strict=True):
        torch.testing.assert_close(mine, theirs, atol=0, rtol=0)


def test_killed_mid_write_leaves_only_a_partial_folder(tmp_path):
    model, optimizer, scheduler = components()
    save_checkpoint(tmp_path, 2, model, optimizer, scheduler, {})
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, 4, model, ExplodingOptimizer(), scheduler, {})
    # A failed write cleans up after itself; a kill cannot, and leaves what it wrote.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-2"]
    (tmp_path / "step-4.partial").mkdir()
    (tmp_path / "step-4.partial" / "trainable.safetensors").write_bytes(b"half")
    assert latest_checkpoint(tmp_path) == tmp_path / "step-2"
    # The next save of that step replaces the partial folder.
    save_checkpoint(tmp_path, 4, model, optimizer, scheduler, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-2", "step-4"]
    assert latest_checkpoint(tmp_path) == tmp_path / "step-4"


def test_latest_is_by_step_number_and_needs_state(tmp_path):
    assert latest_checkpoint(tmp_path / "missing") is None
    for step in (2, 10, 9):
        (tmp_path / f"step-{step}").mkdir()
        (tmp_path / f"step-{step}" / "state.json").write_text(json.dumps({"step": step}))
    (tmp_path / "step-11").mkdir()  # no state.json: never completed
    assert latest_checkpoint(tmp_path) == tmp_path / "step-10"


def test_prune_keeps_newest_and_the_protected_one(tmp_path):
    for step in (1, 2, 3, 4, 5):
        (tmp_path / f"step-{step}").mkdir()
    (tmp_path / "step-6.partial").mkdir()
    prune_checkpoints(tmp_path, keep=2, protect=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "step-2", "step-4", "step-5", "step-6.partial"
    ]  # fmt: skip


def test_loading_into_another_adapter_is_refused(tmp_path):
    model, optimizer, scheduler = components()
    save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {})
    other, optimizer2, scheduler2 = components()
    other[0].requires_grad_(True)
    with pytest.raises(TuneForgeError, match="does not match this model/adapter"):
        load_checkpoint(tmp_path / "step-1", other, optimizer2, scheduler2)


def test_a_full_disk_leaves_no_partial_folder_and_reads_as_a_full_disk(tmp_path, monkeypatch):
    import errno

    import tuneforge.train.checkpoint as checkpoint

    def full_disk(*args, **kwargs):  # what safetensors raises when the disk fills up
        raise RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")

    model, optimizer, scheduler = components()
    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    with pytest.raises(OSError) as raised:
        save_checkpoint(tmp_path, 3, model, optimizer, scheduler, {})
    assert raised.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
