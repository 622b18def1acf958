"""Plain helpers shared by the engine tests (fixtures live in conftest.py)."""
from __future__ import annotations

from typing import Callable


def stop_after(checks: int) -> Callable[[], bool]:
    """A ``stop_check`` that lets the first ``checks`` calls pass and asks to stop on every later one.

    The runners call it once per step (or query), so a test can cancel a run at an exact point and then check that
    resuming from the checkpoint ends where an uninterrupted run does."""
    calls = 0

    def stop_check() -> bool:
        nonlocal calls
        calls += 1
        return calls > checks

    return stop_check


def tiny_optimizer(name: str, space: str = "s3", **settings):
    """A method set up on a 3-cell, 4-channel supernet of ``space`` (seeded), for unit tests of its steps."""
    import torch

    from nascore.config import validate_config
    from nascore.optimizers import get_optimizer
    from nascore.spaces import get_space

    torch.manual_seed(0)
    config = validate_config({"space": space, "optimizer": name, "channels": 4, "layers": 3, "device": "cpu",
                              **settings})
    sp = get_space(space)
    opt = get_optimizer(name)(sp, config)
    model = sp.build_supernet(opt.edge_factory(), 4, 3, 1, 10)
    opt.setup(model, torch.device("cpu"))
    return opt
