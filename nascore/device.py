"""Which torch device a run uses, resolved once from a config's ``device`` setting."""
from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``'auto'``: CUDA when available, else the CPU; ``'cpu'``; ``'cuda'`` or ``'cuda:N'``.

    Asking for CUDA on a machine without it raises a ValueError that says so (rather than
    failing later, deep inside the first forward pass).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N), not {name!r}")
    key = name.strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if key == "cpu":
        return torch.device("cpu")
    if key == "cuda" or key.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} was asked for but CUDA is not available on this machine; "
                             "use device 'cpu' or 'auto'")
        try:
            device = torch.device(key)
        except RuntimeError:
            raise ValueError(f"device {name!r} is not a valid CUDA device name (cuda or cuda:N)") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} "
                             "CUDA device(s)")
        return device
    raise ValueError(f"unknown device {name!r}; choose one of: {', '.join(DEVICE_CHOICES)} (or cuda:N)")
