"""Checkpoint faults in the engine: a corrupt latest checkpoint fails the resume naming the file (the previous one
kept), a disk that refuses the write fails the run with the reason and leaves the last good checkpoint the latest."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from nascore import checkpoint as ckpt
from nascore.events import read_events
from nascore.runner import SearchFailed, run_search
from tests.nascore.support import stop_after

TINY = {"space": "s3", "dataset": "digits", "epochs": 3, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 3, "device": "cpu", "seed": 1, "curvature_every": 0}


def test_each_checkpoint_keeps_the_one_before(tmp_path: Path) -> None:
    run_search({**TINY, "epochs": 2}, tmp_path)
    latest = ckpt.load(tmp_path / "checkpoint.pt")
    previous = ckpt.load(tmp_path / "checkpoint.pt.prev")
    assert (latest["epoch"], previous["epoch"]) == (2, 1)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_latest_checkpoint_fails_the_resume_naming_it(tmp_path: Path, damage: str) -> None:
    """Chosen behaviour: fail, naming the file and where the previous checkpoint is; never start over silently."""
    run_search(TINY, tmp_path, stop_check=stop_after(TINY["steps_per_epoch"] * 2 + 1))  # two epochs checkpointed
    path = tmp_path / "checkpoint.pt"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"not a checkpoint" * 10)
    prev_bytes = (tmp_path / "checkpoint.pt.prev").read_bytes()
    with pytest.raises(SearchFailed) as failure:
        run_search(TINY, tmp_path)
    message = str(failure.value)
    assert str(path) in message and "cannot be read" in message
    assert str(tmp_path / "checkpoint.pt.prev") in message
    assert (tmp_path / "checkpoint.pt.prev").read_bytes() == prev_bytes  # the previous one is untouched
    assert ckpt.load(tmp_path / "checkpoint.pt.prev")["epoch"] == 1
    # renaming the previous one resumes from it, as the message says
    os.replace(tmp_path / "checkpoint.pt.prev", path)
    assert run_search(TINY, tmp_path).status == "finished"
    epochs = [e["epoch"] for e in read_events(tmp_path / "events.jsonl") if e["type"] == "epoch"]
    assert epochs == [1, 2, 3]


def test_a_full_disk_fails_the_run_with_the_reason_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    """/dev/full refuses every write with ENOSPC, even for root: the checkpoint's temporary file points there."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    full_after_first = {"steps": 0}

    def fill_disk_in_epoch_two() -> bool:
        full_after_first["steps"] += 1
        if full_after_first["steps"] == TINY["steps_per_epoch"] + 1:
            (tmp_path / "checkpoint.pt.tmp").symlink_to("/dev/full")
        return False

    with pytest.raises(SearchFailed) as failure:
        run_search(TINY, tmp_path, stop_check=fill_disk_in_epoch_two)
    assert str(failure.value) == f"cannot write checkpoint to {tmp_path / 'checkpoint.pt'}: No space left on device"
    assert ckpt.load(tmp_path / "checkpoint.pt")["epoch"] == 1  # the last good one is still the latest
    assert not (tmp_path / "checkpoint.pt.tmp").exists() and not (tmp_path / "checkpoint.pt.tmp").is_symlink()
    events = read_events(tmp_path / "events.jsonl")
    assert events[-1]["type"] == "failed" and "No space left on device" in events[-1]["reason"]


def test_save_atomic_leaves_nothing_on_a_failed_write(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    (tmp_path / "c.pt.tmp").symlink_to("/dev/full")
    with pytest.raises(OSError):
        ckpt.save_atomic({"w": torch.zeros(1000)}, tmp_path / "c.pt", keep_previous=True)
    assert list(tmp_path.iterdir()) == []
