"""A terminal progress bar with ETA for searches (only when stderr is a terminal)."""
from __future__ import annotations

import sys
from typing import Any


class ConsoleProgress:
    """Called by the runner after every step; one bar over all steps of all epochs.  The bar goes to the position
    it is given rather than counting calls, since a table search with a time budget reports simulated seconds."""

    def __init__(self, epochs: int, stream: Any = None):
        self.epochs = epochs
        self.stream = stream or sys.stderr
        self.bar = None

    def __call__(self, epoch: int, step: int, steps_per_epoch: int, loss: float) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.epochs * steps_per_epoch, initial=(epoch - 1) * steps_per_epoch + step - 1,
                            file=self.stream, unit="step", dynamic_ncols=True, disable=not self.stream.isatty())
        self.bar.set_description(f"epoch {epoch}/{self.epochs}")
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self.bar.update(max(0, (epoch - 1) * steps_per_epoch + step - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
