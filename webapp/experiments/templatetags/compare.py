"""Formatting of comparison and leaderboard figures: a value, or a mean ± sample std, in the column's unit."""
from __future__ import annotations

from typing import Any

from django import template

from webapp.experiments.presenters.comparison import Stat

register = template.Library()


def _count(value: float) -> str:
    """Parameters and FLOPs the way papers write them: 3.3M, 3.349M, 528.1M, 12.3k."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            digits = 3 if abs(value) < 10 * size else 1
            return f"{value / size:.{digits}f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def _seconds(value: float) -> str:
    seconds = int(round(value))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{value:.1f}s"


def format_value(value: Any, unit: str) -> str:
    """One figure in its unit; an en dash when missing."""
    if value is None:
        return "–"
    value = float(value)
    if unit == "pct":
        return f"{value * 100:.2f}%"
    if unit == "count":
        return _count(value)
    if unit == "seconds":
        return _seconds(value)
    if unit == "hours":
        return f"{value:.3g}"
    return f"{value:g}"


def format_stat(stat: Stat, unit: str) -> str:
    """``mean ± std`` (std only for two or more values), the ± in the same unit as the mean."""
    text = format_value(stat.mean, unit)
    if stat.mean is None or stat.std is None:
        return text
    if unit == "pct":
        return f"{stat.mean * 100:.2f} ± {stat.std * 100:.2f}%"
    return f"{text} ± {format_value(stat.std, unit)}"


@register.filter
def figure(value: Any, unit: str) -> str:
    """``{{ stat|figure:"pct" }}`` or ``{{ number|figure:"count" }}``."""
    if isinstance(value, Stat):
        return format_stat(value, unit)
    return format_value(value, unit)


@register.filter
def lookup(mapping: Any, key: Any) -> Any:
    """``{{ row.cells|lookup:column.key }}``: dictionary access by a variable key."""
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None
