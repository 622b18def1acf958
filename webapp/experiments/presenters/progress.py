"""The experiment page's progress line, in words: epochs (or a table search's seeded runs and queries), the step,
the ETA, what the run waits for or returns, its best accuracy so far, the selection stage's progress and a retrain's
test accuracy.  Sent with every poll (``progress.text``) and rendered into the page as served, so the page and the
API say the same thing.  It reads the experiment's row, and an event only in the states that need one."""
from __future__ import annotations

from typing import Any

from nascore.config import effective_select_samples
from webapp.experiments.models import Event, Experiment, Kind, Status
from webapp.experiments.presenters.formats import is_number, percent


def seconds_text(seconds: float | None) -> str:
    """An ETA as ``1h 05m``, ``3m 07s`` or ``42s``."""
    if seconds is None:
        return ""
    s = round(seconds)
    h, m, sec = s // 3600, (s % 3600) // 60, s % 60
    return f"{h}h {m:02d}m" if h else f"{m}m {sec:02d}s" if m else f"{sec}s"


def _latest(exp: Experiment, etype: str) -> dict[str, Any] | None:
    return (Event.objects.filter(experiment=exp, type=etype).order_by("-seq")
            .values_list("payload", flat=True).first())


def progress_text(exp: Experiment) -> str:
    p = exp.progress_dict()
    status = exp.status
    config = exp.config if isinstance(exp.config, dict) else {}
    running = status == Status.RUNNING
    if config.get("evaluator") == "table":
        text = f"seeded run {p['epoch']}/{p['epochs']}"
        if running and p["steps_per_epoch"]:
            run = min(p["epoch"] + 1, p["epochs"])
            if config.get("budget_unit") == "seconds":
                text += f" · {p['step']:,}/{p['steps_per_epoch']:,} simulated seconds of run {run}"
            else:
                text += f" · query {p['step']}/{p['steps_per_epoch']} of run {run}"
    else:
        text = f"epoch {p['epoch']}/{p['epochs']}"
        if running and p["steps_per_epoch"]:
            text += f" · step {p['step']}/{p['steps_per_epoch']} of epoch {min(p['epoch'] + 1, p['epochs'])}"
    if running and p["eta_seconds"] is not None:
        text += f" · ETA {seconds_text(p['eta_seconds'])}"
    if status == Status.QUEUED:
        text += " · waiting for a worker"
    if status == Status.STOPPED_EARLY:
        stop = _latest(exp, "early_stop")
        if stop:
            text += (f" · stopped early after epoch {stop.get('trigger_epoch')}, returns the architecture of epoch "
                     f"{stop.get('returned_epoch')}")
    if is_number(p["best_val_acc"]):
        text += f" · best val acc {percent(p['best_val_acc'])}"
    if running and exp.kind == Kind.SEARCH and effective_select_samples(config):
        stage = _latest(exp, "selection")
        if stage and stage.get("phase") != "done":
            text += f" · choosing the final architecture ({stage.get('done')}/{stage.get('total')})"
    if exp.kind == Kind.RETRAIN:
        last = _latest(exp, "eval_epoch")
        if last:
            text += f" · test acc {percent(last.get('test_acc'))}"
    return text
