"""Random streams, uniform path sampling and sampling frequencies for the sampling methods."""
from __future__ import annotations

import zlib
from typing import Any

import torch


def generator_for(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator seeded from a run's seed and a purpose: independent, reproducible streams that a
    method saves in its state (``get_state``/``set_state``) for exact resume."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + zlib.crc32(purpose.encode())) % 2**63)


def uniform_columns(mask: torch.Tensor, generator: torch.Generator) -> list[int]:
    """One candidate column per row of ``mask`` (bool edges x ops), uniformly."""
    return torch.multinomial(mask.detach().cpu().float(), 1, generator=generator).squeeze(1).tolist()


def sample_columns(probs: torch.Tensor, generator: torch.Generator, count: int = 1) -> torch.Tensor:
    """``count`` distinct columns per row drawn from ``probs`` (rows x ops), on the CPU."""
    return torch.multinomial(probs.detach().cpu().float(), count, replacement=False, generator=generator)


class FrequencyCounter:
    """How often each op was sampled on each edge: the heatmap of methods without architecture weights."""

    def __init__(self, masks: dict[str, torch.Tensor]):
        self.masks = {ct: m.detach().cpu() for ct, m in masks.items()}
        self.counts = {ct: torch.zeros(m.shape, dtype=torch.float64) for ct, m in self.masks.items()}

    def add(self, columns: dict[str, list[int]]) -> None:
        """Count one architecture; edges it leaves out (negative columns) count nothing."""
        for ct, cols in columns.items():
            kept = [r for r, c in enumerate(cols) if c >= 0]
            rows = torch.tensor(kept, dtype=torch.long)
            self.counts[ct][rows, torch.tensor([cols[r] for r in kept], dtype=torch.long)] += 1

    def frequencies(self) -> dict[str, torch.Tensor]:
        """Rows summing to one; uniform over the candidates before any sample."""
        out = {}
        for ct, counts in self.counts.items():
            base = torch.where(counts.sum(-1, keepdim=True) > 0, counts, self.masks[ct].double())
            out[ct] = (base / base.sum(-1, keepdim=True)).float()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {ct: c.clone() for ct, c in self.counts.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = {ct: c.clone().double() for ct, c in state.items()}
