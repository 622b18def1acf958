"""What the live page gets with each poll besides the events: the sections' lines a page of events changes."""
from __future__ import annotations

from typing import Any

from webapp.experiments.presenters import benchmark
from webapp.experiments.presenters.events import event_text
from webapp.experiments.presenters.progress import progress_text
from webapp.experiments.presenters.regret import blackbox_lines
from webapp.experiments.presenters.selection import plot_title, selection_text
from webapp.experiments.selectors import curvature_summary
from webapp.experiments.selectors.compare import blackbox_runs

def events_answer(experiment: Any, events: list[dict[str, Any]], after: int, more: bool) -> dict[str, Any]:
    """What the live page reads after a sequence number, the same whether it polls (``/events``) or listens
    (``/stream``, one answer per event): the run's status and progress, the events with their log lines, and the
    sections' lines those events change."""
    page = [{**event, "text": event_text(event)} for event in events]
    return {"status": experiment.status, "error": experiment.error or None, "stop_reason": experiment.stop_reason or None,
            "cancel_requested": experiment.cancel_requested,
            "progress": {**experiment.progress_dict(), "text": progress_text(experiment)}, "events": page,
            "last_seq": page[-1]["seq"] if page else after, "more": more,
            "history_rev": experiment.history_rev, **page_summaries(experiment, page)}


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
        out["selection_title"] = plot_title(done[-1])
    if any(e.get("type") == "query" for e in page):
        out.update(_blackbox_lines(experiment, page[-1]["seq"]))
    return out


def _blackbox_lines(experiment: Any, until_seq: int) -> dict[str, str]:
    """The regret plot's title and line, over the query events up to the page's last (as the plot has them)."""
    runs = blackbox_runs([experiment.pk], until_seq=until_seq).get(experiment.pk, [])
    config = experiment.config or {}
    optimum = None
    if config.get("evaluator") == "table":
        table = benchmark.table_for(experiment.space, experiment.dataset)
        optimum = None if table is None else table.optimum()["valid_acc"]
    return blackbox_lines(experiment.optimizer, config, runs, optimum)
