"""The selection stage (``nascore.selection``) as the experiment page shows it: whether the run has one, how far it
is, and, once it is done, what it chose and how well the one-shot ranking predicted the stand-alone one.

Read from the result's ``selection`` block when the run has a result, else from the stored ``selection`` events,
so a running page and a finished page say the same thing.
"""
from __future__ import annotations

from typing import Any

from nascore.config import effective_select_samples
from nascore.selection import SelectionSettings
from webapp.experiments.models import ACTIVE_STATUSES, Event, Experiment
from webapp.experiments.presenters.events import selection_phase_text
from webapp.experiments.presenters.formats import correlation, is_number


def selection_text(block: dict[str, Any]) -> str:
    """One line for a finished block: the rank correlations over the retrained and what was kept."""
    candidates = block.get("candidates") or []
    chosen = next((c for c in candidates if isinstance(c, dict) and c.get("index") == block.get("chosen")), None)
    sampled = block.get("sampled", block.get("samples", len(candidates)))
    line = (f"Kendall τ {correlation(block.get('kendall_tau'))} · Spearman ρ {correlation(block.get('spearman'))} over the "
            f"{block.get('top_k')} retrained of {sampled} sampled")
    if chosen is not None:
        acc = chosen.get("standalone_val_acc")
        which = "the search's own architecture" if chosen.get("source") == "derived" else f"candidate {chosen.get('index')}"
        line += (f" · kept {which} (one-shot rank {chosen.get('oneshot_rank')}, stand-alone val acc "
                 f"{acc * 100:.2f}%)" if is_number(acc) else f" · kept {which}")
    return line


def plot_title(block: dict[str, Any]) -> str:
    """The scatter plot's title once the stage is done: the rank correlations over the retrained candidates."""
    return (f"One-shot vs stand-alone validation accuracy · Kendall τ = {correlation(block.get('kendall_tau'))} · "
            f"Spearman ρ = {correlation(block.get('spearman'))}")


def plot_labels(config: dict[str, Any]) -> dict[str, str]:
    """The scatter plot's axis titles and its title while candidates are retrained (``{done}`` and ``{top_k}`` are
    filled in by the page from the stage's events)."""
    epochs = config.get("select_epochs", SelectionSettings.model_fields["select_epochs"].default)
    return {"x": "one-shot validation accuracy",
            "y": f"stand-alone validation accuracy ({epochs} epoch{'' if epochs == 1 else 's'})",
            "progress_title": "One-shot vs stand-alone validation accuracy ({done} of {top_k} retrained so far)"}


def progress_of(event: dict[str, Any]) -> dict[str, Any]:
    """``{fraction, text}`` of the stage from its latest event."""
    total = event.get("total") or 0
    done = event.get("done") or 0
    return {"fraction": (done / total) if total else 0.0, "text": "selection: " + selection_phase_text(event)}


def selection_summary(experiment: Experiment, raw: dict[str, Any]) -> dict[str, Any]:
    """``shown``: the page has a selection section; ``block``: the finished (or cancelled) stage's data for the
    scatter plot, None before; ``summary``: one line; ``progress``: ``{fraction, text}`` or None; ``empty``: what
    the section says before anything happened."""
    block = raw.get("selection") if isinstance(raw.get("selection"), dict) else None
    latest = (Event.objects.filter(experiment=experiment, type="selection").order_by("-seq")
              .values_list("payload", flat=True).first())
    if block is None and isinstance(latest, dict) and latest.get("phase") == "done":
        block = {**latest, "status": "finished", "sampled": latest.get("samples")}
    config = experiment.config if isinstance(experiment.config, dict) else {}
    samples = effective_select_samples(config)
    active = experiment.status in ACTIVE_STATUSES
    shown = block is not None or latest is not None or (active and samples > 0)
    summary = ""
    if block is not None and block.get("status") == "finished":
        summary = selection_text(block)
    elif block is not None:
        summary = "The selection stage was interrupted; resuming the run redoes it."
    return {
        "shown": shown,
        "block": block,
        "summary": summary,
        "title": plot_title(block) if block is not None else "",
        "labels": plot_labels(config),
        "progress": progress_of(latest) if isinstance(latest, dict) else None,
        "empty": (f"After the last epoch, {samples} architectures are sampled and ranked with the one-shot weights, "
                  f"and the best {config.get('select_top_k', 4)} are retrained from scratch."
                  if samples else "This run has no selection stage."),
    }
