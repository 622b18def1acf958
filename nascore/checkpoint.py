"""Atomic checkpoints and the random-number state they must carry for exact resume."""
from __future__ import annotations

import io
import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: the suffix of the checkpoint kept from before the latest one was written
PREVIOUS = ".prev"


class CheckpointUnreadable(Exception):
    """A checkpoint file that exists but cannot be loaded (truncated, corrupt); the message names the file."""


def save_atomic(state: dict[str, Any], path: str | os.PathLike, keep_previous: bool = False) -> None:
    """Write to a temporary file, fsync, then rename, so a kill or a full disk never leaves half a checkpoint
    under ``path``; a failed write removes the temporary file and raises OSError. With ``keep_previous`` the
    checkpoint being replaced stays as ``path + PREVIOUS`` (a hard link, so ``path`` itself is never missing)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        buffer = io.BytesIO()  # serialised first: torch's own file writer turns ENOSPC into a vague RuntimeError
        torch.save(state, buffer)
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        if keep_previous and path.exists():
            _link_previous(path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _link_previous(path: Path) -> None:
    """Make ``path + PREVIOUS`` the current ``path`` (hard-linked; copied where links are refused)."""
    prev = path.with_name(path.name + PREVIOUS)
    staging = path.with_name(path.name + PREVIOUS + ".tmp")
    staging.unlink(missing_ok=True)
    try:
        os.link(path, staging)
    except OSError:
        import shutil

        shutil.copyfile(path, staging)
    os.replace(staging, prev)


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable (a crash right after must not bring back the old names)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path``; a file torch cannot read becomes CheckpointUnreadable naming it."""
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError, IndexError, KeyError,
            pickle.UnpicklingError) as exc:
        raise CheckpointUnreadable(f"the checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from exc
