"""Rank correlations between two scorings of the same items, with ties handled as the usual definitions do.

The selection stage compares the one-shot ranking of the retrained architectures with their stand-alone
ranking; accuracies on a small validation split tie often, so ties must count correctly: Kendall's tau-b
(ties in either scoring shrink the denominator) and Spearman's rho (Pearson's correlation of average ranks).
Both return None where the correlation is undefined (fewer than two items, or one scoring constant), since
JSON has no NaN and a page must say "undefined" rather than plot a number.
"""
from __future__ import annotations

import math
from typing import Sequence


def _check(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"the two scorings must rank the same items: {len(x)} values against {len(y)}")


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks in increasing order of ``values``; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1  # mean of positions start..end, 1-based
        for k in range(start, end + 1):
            ranks[order[k]] = shared
        start = end + 1
    return ranks


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties in x) * (n0 - ties in y)), n0 = n(n-1)/2.

    A pair tied in one scoring is neither concordant nor discordant.  None when undefined."""
    _check(x, y)
    n = len(x)
    concordant = discordant = tied_x = tied_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[j] - x[i], y[j] - y[i]
            if dx == 0:
                tied_x += 1
            if dy == 0:
                tied_y += 1
            if dx and dy:
                if (dx > 0) == (dy > 0):
                    concordant += 1
                else:
                    discordant += 1
    pairs = n * (n - 1) // 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    if denominator == 0:
        return None
    return (concordant - discordant) / denominator


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the average ranks.  None when undefined."""
    _check(x, y)
    if len(x) < 2:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return cov / math.sqrt(vx * vy)
