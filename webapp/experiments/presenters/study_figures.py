"""A study's figures as plain plotly JSON (``{"data": [...], "layout": {...}}``), built on the server so the page's
script only draws them (``Plotly.react``).

Most come from ``optuna.visualization`` (the plots Optuna's users know); the learning curves are drawn here because
Optuna's own plot does not mark where the pruner stopped a trial, and that is the point of reading them.  Each figure
is ``None`` with a sentence saying why when the study has too few trials for it.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

#: the figures of a study page, in the order they are shown: (key, title)
FIGURES = (
    ("history", "Optimization history"),
    ("curves", "Learning curves"),
    ("parallel", "Parallel coordinates"),
    ("importance", "Hyperparameter importances (fANOVA)"),
    ("slice", "Slice plots"),
)

STATE_COLORS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "failed": "#d62728", "running": "#2ca02c",
                "waiting": "#7f7f7f"}


def _plain(fig: Any, keep_width: bool = False) -> dict[str, Any]:
    """A plotly figure as JSON-ready dicts, without the template (plotly.js draws its own defaults; the template
    alone would be most of the bytes the page polls) and, unless ``keep_width`` (the slice plots: one panel per
    hyperparameter, scrolled sideways), without a fixed size, so it fills its box."""
    import plotly.io

    doc = json.loads(plotly.io.to_json(fig, validate=False))
    layout = doc.get("layout", {})
    layout.pop("template", None)
    if not keep_width:
        layout.pop("width", None)
    layout.update(autosize=not keep_width, margin={"l": 60, "r": 20, "t": 40, "b": 50})
    return {"data": doc.get("data", []), "layout": layout}


def learning_curves(trials: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Validation accuracy by epoch of every trial, coloured by how it ended; a cross where a pruned trial stopped."""
    drawn = [t for t in trials if t.get("curve")]
    if not drawn:
        return None
    data: list[dict[str, Any]] = []
    for t in drawn:
        epochs = list(range(1, len(t["curve"]) + 1))
        data.append({"type": "scatter", "mode": "lines+markers", "x": epochs, "y": t["curve"],
                     "name": f"trial {t['number']}", "marker": {"size": 4},
                     "legendgroup": t["state"], "showlegend": False, "opacity": 0.8,
                     "line": {"color": STATE_COLORS.get(t["state"], "#7f7f7f"), "width": 1.5},
                     "hovertemplate": f"trial {t['number']} ({t['state']})<br>epoch %{{x}}: %{{y:.2%}}<extra></extra>"})
    pruned = [t for t in drawn if t["state"] == "pruned"]
    if pruned:
        data.append({"type": "scatter", "mode": "markers", "name": "pruned here",
                     "x": [len(t["curve"]) for t in pruned], "y": [t["curve"][-1] for t in pruned],
                     "text": [f"trial {t['number']}" for t in pruned],
                     "marker": {"symbol": "x", "size": 10, "color": STATE_COLORS["pruned"]},
                     "hovertemplate": "%{text} pruned after epoch %{x}: %{y:.2%}<extra></extra>"})
    for state in ("complete", "pruned", "failed", "running"):  # legend entries for the line colours
        if any(t["state"] == state for t in drawn):
            data.append({"type": "scatter", "mode": "lines", "x": [None], "y": [None], "name": state,
                         "line": {"color": STATE_COLORS[state]}, "hoverinfo": "skip"})
    return {"data": data, "layout": {"title": {"text": "Learning curves"}, "autosize": True,
                                     "xaxis": {"title": {"text": "epoch"}, "dtick": 1},
                                     "yaxis": {"title": {"text": "validation accuracy"}, "tickformat": ".0%"},
                                     "margin": {"l": 60, "r": 20, "t": 40, "b": 50}}}


def history(study: Any, baselines: Mapping[str, Mapping[str, float]] | None) -> dict[str, Any] | None:
    """Optuna's optimization history (each complete trial's value and the best so far), with the baselines'
    validation accuracies as dotted lines when the study has them."""
    import optuna

    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        return None
    doc = _plain(optuna.visualization.plot_optimization_history(study, target_name="validation accuracy"))
    shapes, notes = [], []
    for name, figures in (baselines or {}).items():
        value = figures.get("val_acc")
        if isinstance(value, (int, float)):
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": value, "y1": value,
                           "line": {"dash": "dot", "color": "#555", "width": 1}})
            notes.append({"xref": "paper", "x": 1, "y": value, "xanchor": "right", "yanchor": "bottom",
                          "showarrow": False, "text": name.replace("_", " "), "font": {"size": 10, "color": "#555"}})
    if shapes:
        doc["layout"]["shapes"] = shapes
        doc["layout"]["annotations"] = notes
    return doc


def optuna_plots(study: Any, complete: int, with_params: bool) -> dict[str, dict[str, Any] | None]:
    """Parallel coordinates, fANOVA importances and slice plots; importances need two complete trials (fANOVA
    fits a forest to them), the others one."""
    import optuna

    out: dict[str, dict[str, Any] | None] = {"parallel": None, "importance": None, "slice": None}
    if complete < 1 or not with_params:
        return out
    viz = optuna.visualization
    out["parallel"] = _plain(viz.plot_parallel_coordinate(study, target_name="validation accuracy"))
    out["slice"] = _plain(viz.plot_slice(study, target_name="validation accuracy"), keep_width=True)
    if complete >= 2:
        try:
            shares = importances(study)
        except (RuntimeError, ValueError):  # e.g. every complete trial drew the same single value
            shares = {}
        out["importance"] = importance_bars(shares) if shares else None
    return out


def importance_bars(shares: Mapping[str, float]) -> dict[str, Any]:
    """fANOVA's importances as horizontal bars, the most important on top (as Optuna's own plot)."""
    names = sorted(shares, key=lambda n: shares[n])
    return {"data": [{"type": "bar", "orientation": "h", "x": [shares[n] for n in names], "y": names,
                      "text": [f"{shares[n]:.0%}" for n in names], "textposition": "outside",
                      "marker": {"color": "#1f77b4"}, "hovertemplate": "%{y}: %{x:.1%}<extra></extra>"}],
            "layout": {"title": {"text": "Hyperparameter importances (fANOVA)"}, "autosize": True,
                       "xaxis": {"title": {"text": "share of the variance of the validation accuracy"},
                                 "tickformat": ".0%"},
                       "margin": {"l": 160, "r": 40, "t": 40, "b": 50}}}


#: fANOVA's answers by (study, its complete trials): the page polls every few seconds, the forest is refit only
#: when a trial completes
_IMPORTANCES: dict[tuple[Any, ...], dict[str, float]] = {}


def importances(study: Any) -> dict[str, float]:
    """fANOVA's share of the variance of the validation accuracy per hyperparameter (seeded: the page is stable)."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    key = (study.study_name, tuple((t.number, t.value, repr(sorted(t.params.items()))) for t in done))
    if key not in _IMPORTANCES:
        if len(_IMPORTANCES) > 64:
            _IMPORTANCES.clear()
        _IMPORTANCES[key] = dict(optuna.importance.get_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=0)))
    return _IMPORTANCES[key]


def empty_sentences(complete: int, trials: int, with_params: bool) -> dict[str, str]:
    """Why a figure is missing, in words."""
    none_yet = "It appears with the first complete trial."
    if not trials:
        none_yet = "It appears with the first trial."
    return {
        "history": "The optimization history appears with the first complete trial.",
        "curves": "The learning curves appear with the first trial's first epoch.",
        "parallel": none_yet if with_params else "No trial has sampled a hyperparameter yet.",
        "importance": ("Importances need at least two complete trials (fANOVA fits a forest to them); "
                       f"{complete} so far." if complete < 2 else
                       "fANOVA could not attribute the variance: the complete trials do not differ enough."),
        "slice": none_yet if with_params else "No trial has sampled a hyperparameter yet.",
    }
