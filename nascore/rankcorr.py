"""Rank correlations between two scorings of the same items, from :mod:`scipy.stats`, as JSON can hold them.

The selection stage compares the one-shot ranking of the retrained architectures with their stand-alone
ranking; accuracies on a small validation split tie often, so ties must count as the usual definitions say:
Kendall's tau-b and Spearman's rho of average ranks, which is what scipy computes.  Both return None where the
correlation is undefined (fewer than two items, or one scoring constant: scipy's NaN), since JSON has no NaN and a
page must say "undefined" rather than plot a number.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

from scipy import stats


def _check(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"the two scorings must rank the same items: {len(x)} values against {len(y)}")


def _defined(statistic: Callable[..., object], x: Sequence[float], y: Sequence[float]) -> float | None:
    _check(x, y)
    if len(x) < 2:
        return None
    with warnings.catch_warnings():  # a constant scoring: scipy warns and answers NaN, which is our None
        warnings.simplefilter("ignore")
        value = float(statistic(list(x), list(y)).statistic)  # type: ignore[attr-defined]
    return None if math.isnan(value) else value


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b (ties in either scoring shrink the denominator); None when undefined."""
    return _defined(stats.kendalltau, x, y)


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the average ranks; None when undefined."""
    return _defined(stats.spearmanr, x, y)
