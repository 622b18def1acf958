"""The event log's line for each kind of event: the events API sends it as ``text`` with every event."""
from __future__ import annotations

import json
from typing import Any, Callable

from webapp.experiments.presenters.formats import correlation, fixed, percent


def _genotype(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _run_started(ev: dict[str, Any]) -> str:
    start = f"resumed at epoch {ev.get('start_epoch')}" if ev.get("resumed") else "started"
    return f"{start} on {ev.get('device')}: {ev.get('epochs')} epochs × {ev.get('steps_per_epoch')} steps"


def _epoch(ev: dict[str, Any]) -> str:
    return (f"epoch {ev.get('epoch')}/{ev.get('epochs')}: train loss {fixed(ev.get('train_loss'), 4)}, acc "
            f"{percent(ev.get('train_acc'))} · val loss {fixed(ev.get('val_loss'), 4)}, acc "
            f"{percent(ev.get('val_acc'))} · lr {fixed(ev.get('lr'), 5)} · {fixed(ev.get('seconds'), 1)} s")


def _eval_epoch(ev: dict[str, Any]) -> str:
    return (f"epoch {ev.get('epoch')}/{ev.get('epochs')}: train loss {fixed(ev.get('train_loss'), 4)}, acc "
            f"{percent(ev.get('train_acc'))} · test loss {fixed(ev.get('test_loss'), 4)}, acc "
            f"{percent(ev.get('test_acc'))} · lr {fixed(ev.get('lr'), 5)} · drop-path {fixed(ev.get('drop_path'), 3)} "
            f"· {fixed(ev.get('seconds'), 1)} s")


def _step(ev: dict[str, Any]) -> str:
    return (f"epoch {ev.get('epoch')}, step {ev.get('step')}/{ev.get('steps_per_epoch')}: train loss "
            f"{fixed(ev.get('train_loss'), 4)}, acc {percent(ev.get('train_acc'))}")


def _curvature(ev: dict[str, Any]) -> str:
    text = f"curvature after epoch {ev.get('epoch')}: dominant Hessian eigenvalue {fixed(ev.get('eigenvalue'), 4)}"
    if isinstance(ev.get("trace"), (int, float)):
        text += f", trace {fixed(ev['trace'], 3)}"
    if ev.get("iterations"):
        converged = ", not converged" if ev.get("converged") is False else ""
        text += f" ({ev['iterations']} iterations{converged}, {fixed(ev.get('seconds'), 1)} s)"
    if isinstance(ev.get("ratio"), (int, float)):
        text += f"; earlier/later {fixed(ev['ratio'], 3)} (k = {ev.get('window')}, threshold {ev.get('threshold')})"
    return text


def _finished(ev: dict[str, Any]) -> str:
    status, epoch = ev.get("status"), ev.get("epoch")
    if status == "cancelled":
        return f"cancelled during epoch {(epoch or 0) + 1}"
    return f"{'stopped early' if status == 'stopped_early' else 'finished'} after {epoch} epochs"


def selection_phase_text(ev: dict[str, Any]) -> str:
    """What a ``selection`` event says the stage is doing (the page's progress line and the log's)."""
    c = ev.get("candidate") or {}
    phase = ev.get("phase")
    if phase == "start":
        text = f"sampled {ev.get('samples')} architectures; ranking them with the one-shot weights"
    elif phase == "rank":
        text = (f"ranking with the one-shot weights: {ev.get('done')} of {ev.get('samples')} (candidate "
                f"{ev.get('index')}: val acc {percent(c.get('oneshot_val_acc'))})")
    elif phase == "retrain":
        text = (f"retraining the top {ev.get('top_k')} from scratch: candidate {ev.get('index')}, epoch "
                f"{ev.get('epoch')} of {ev.get('epochs')} (val acc {percent(c.get('standalone_val_acc'))})")
    elif phase == "done":
        text = (f"done: kept candidate {ev.get('chosen')}; Kendall τ {correlation(ev.get('kendall_tau'))}, Spearman ρ "
                f"{correlation(ev.get('spearman'))}")
    else:
        text = str(phase)
    return text


def cost_value(value: Any, unit: Any) -> str:
    """An expected cost with its unit: milliseconds to 3 decimals, MACs in millions ("0.114 M MACs")."""
    if unit == "MACs" and isinstance(value, (int, float)):
        return f"{fixed(value / 1e6, 3)} M MACs"
    return f"{fixed(value, 3)} {unit}"


def _expected_cost(ev: dict[str, Any]) -> str:
    name = "latency" if ev.get("cost_model") == "latency" else "FLOPs"
    unit = ev.get("unit")
    text = (f"expected {name} of the distribution after epoch {ev.get('epoch')}: "
            f"{cost_value(ev.get('expected'), unit)} (reference {cost_value(ev.get('reference'), unit)}")
    if ev.get("penalty") == "none":
        return text + ", measured only)"
    return text + f", {ev.get('penalty')} term, λ {ev.get('weight')})"


def _query(ev: dict[str, Any]) -> str:
    text = (f"run {ev.get('run')} (seed {ev.get('seed')}), query {ev.get('query')}: {_genotype(ev.get('genotype'))} "
            f"val acc {fixed(ev.get('valid_acc'), 2)}%")
    if isinstance(ev.get("test_acc"), (int, float)):
        text += f", test acc {fixed(ev['test_acc'], 2)}%"
    return text + f" · best so far {fixed(ev.get('best_valid_acc'), 2)}% (query {ev.get('best_query')})"


TEXTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "run_started": _run_started,
    "step": _step,
    "epoch": _epoch,
    "eval_epoch": _eval_epoch,
    "arch": lambda ev: f"architecture distribution of epoch {ev.get('epoch')} ({', '.join(ev.get('cells') or {})})",
    "expected_cost": _expected_cost,
    "genotype": lambda ev: f"genotype of epoch {ev.get('epoch')}: {_genotype(ev.get('genotype'))}",
    "checkpoint": lambda ev: f"checkpoint saved after epoch {ev.get('epoch')}",
    "log": lambda ev: f"{ev.get('level')}: {ev.get('message')}",
    "curvature": _curvature,
    "early_stop": lambda ev: f"stopped early: {ev.get('reason')}",
    "regularization_change": lambda ev: ev.get("reason") or (
        f"DARTS-ADA: {ev.get('parameter')} {ev.get('old')} → {ev.get('new')}, back to epoch {ev.get('restored_epoch')}"),
    "finished": _finished,
    "failed": lambda ev: f"failed in epoch {ev.get('epoch')}: {ev.get('reason')}",
    "selection": lambda ev: "selection: " + selection_phase_text(ev),
    "query": _query,
}


def event_text(event: dict[str, Any]) -> str:
    """The log line of ``event`` (a stored event's payload with its ``type``); an unknown type shows as JSON."""
    describe = TEXTS.get(str(event.get("type")))
    return describe(event) if describe is not None else json.dumps(event, default=str)
