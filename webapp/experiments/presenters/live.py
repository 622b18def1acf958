"""What the live page gets with each poll besides the events: the sections' lines a page of events changes."""
from __future__ import annotations

from typing import Any

from webapp.experiments.presenters.selection import selection_text
from webapp.experiments.selectors import curvature_summary

#: events after which the curvature section's line changes
CURVATURE_EVENTS = frozenset({"curvature", "early_stop", "regularization_change"})


def page_summaries(experiment: Any, page: list[dict[str, Any]]) -> dict[str, str]:
    """The sections' lines that a page of events changes, worded here for the live page (only then: they cost a
    query)."""
    out: dict[str, str] = {}
    if any(e.get("type") in CURVATURE_EVENTS for e in page):
        out["curvature_summary"] = curvature_summary(experiment)["summary"]
    done = [e for e in page if e.get("type") == "selection" and e.get("phase") == "done"]
    if done:
        out["selection_summary"] = selection_text({**done[-1], "sampled": done[-1].get("samples")})
    return out
