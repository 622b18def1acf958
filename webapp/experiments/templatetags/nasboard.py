"""Small display filters for the dashboard templates."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A timedelta as ``1h 02m`` / ``3m 05s`` / ``12s``; empty for None."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def pct(value: Any, digits: int = 1) -> str:
    """A fraction (0..1) as a percentage; accuracies from the engine are fractions."""
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "–"


@register.filter
def percent_width(value: Any) -> str:
    try:
        return f"{max(0.0, min(1.0, float(value))) * 100:.1f}"
    except (TypeError, ValueError):
        return "0"


@register.filter
def space_url(value: Any) -> str:
    """The Spaces page of an experiment's space (a built-in's, or the saved version it ran on); "" for a path."""
    from webapp.experiments.presenters.spaces import space_url as url_of

    return url_of(value) if isinstance(value, str) else ""
