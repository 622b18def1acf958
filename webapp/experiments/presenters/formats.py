"""How numbers read on the pages, in one place: fixed digits, percentages, rank correlations; "–" (or "undefined"
for a correlation) where there is no number."""
from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """A real number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fixed(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if is_number(value) else "–"


def percent(value: Any) -> str:
    """A fraction as a percentage with two decimals."""
    return f"{value * 100:.2f}%" if is_number(value) else "–"


def correlation(value: Any) -> str:
    """A rank correlation with its sign; "undefined" when there is none (NaN: a tie over every candidate)."""
    return f"{value:+.2f}" if is_number(value) and math.isfinite(value) else "undefined"
