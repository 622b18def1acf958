"""What a study's page shows, built once on the server for the first render and for every poll of its page data:
the progress in words, the best trial, the table's rows and the figures (:mod:`.study_figures`).  The page's script
only draws what this returns, so the sentences are the same with or without JavaScript.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from webapp.experiments.presenters import study_figures

if TYPE_CHECKING:
    from webapp.experiments.models import Experiment

#: problems whose best trial is an architecture with hyperparameters worth training from scratch
RETRAINABLE_PROBLEMS = ("retrain", "joint")
STATE_LABELS = {"complete": "complete", "pruned": "pruned", "failed": "failed", "running": "running",
                "waiting": "waiting"}


def pct(value: Any, digits: int = 2) -> str:
    return f"{value * 100:.{digits}f}%" if isinstance(value, (int, float)) else "–"


def value_text(value: Any) -> str:
    """A hyperparameter's value as a person reads it: floats to four significant digits."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.4g}"


def params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={value_text(v)}" for k, v in sorted(params.items())) or "–"


def progress(exp: "Experiment", result: Mapping[str, Any]) -> dict[str, Any]:
    """Trials ended of trials asked for, as a fraction and in words."""
    total = int((exp.config or {}).get("trials") or 0)
    states = [t["state"] for t in result.get("trials", [])]
    counts = {s: states.count(s) for s in ("complete", "pruned", "failed", "running", "waiting")}
    done = counts["complete"] + counts["pruned"] + counts["failed"]
    parts = [f"{counts[s]} {s}" for s in ("complete", "pruned", "failed") if counts[s]]
    text = f"{done} of {total} trial{'s' if total != 1 else ''} done"
    if parts:
        text += f" ({', '.join(parts)})"
    if counts["running"]:
        text += f"; {counts['running']} running"
    text += f"; {sum(t.get('epochs') or 0 for t in result.get('trials', []))} epochs trained in all."
    return {"done": done, "total": total, "fraction": round(min(1.0, done / total), 4) if total else 0.0,
            "percent": round(100 * min(1.0, done / total)) if total else 0, "text": text, "counts": counts}


def baseline_rows(baselines: Any) -> list[dict[str, str]]:
    """The reference models' figures beside the best value (tabular studies, once finished)."""
    if not isinstance(baselines, Mapping):
        return []
    return [{"name": name.replace("_", " "), "val": pct(f.get("val_acc")), "test": pct(f.get("test_acc"))}
            for name, f in baselines.items() if isinstance(f, Mapping)]


def genotype_text(genotype: Any) -> str:
    """A genotype as one line: an NB-201 string or a published name as it is, else compact JSON."""
    import json

    if genotype in (None, "", {}):
        return ""
    return genotype if isinstance(genotype, str) else json.dumps(genotype, separators=(",", ":"))


def ensemble_text(ensemble: Any) -> str:
    """Auto-PyTorch Tabular's ensemble of the best trials, once the study built it."""
    if not isinstance(ensemble, Mapping) or not ensemble.get("members"):
        return ""
    members = ", ".join(f"trial {m['trial']} ({pct(m['weight'], 0)})" for m in ensemble["members"])
    return (f"Ensemble of the best {ensemble.get('candidates')} trials by greedy ensemble selection: validation "
            f"accuracy {pct(ensemble.get('val_acc'))}, test accuracy {pct(ensemble.get('test_acc'))}; members "
            f"{members}.")


def best(result: Mapping[str, Any], baselines: Any = None, stored: Mapping[str, Any] | None = None,
         fixed_genotype: Any = None) -> dict[str, Any] | None:
    """The best complete trial: its number, values and parameters, its architecture (a joint study's trial's, or
    the genotype a retrain study tunes), with the baselines to beat and the ensemble once built."""
    if result.get("best_trial") is None:
        return None
    trial = next((t for t in result.get("trials", []) if t["number"] == result["best_trial"]), {})
    params = result.get("best_params") or {}
    rows = baseline_rows(baselines)
    text = f"Trial {result['best_trial']}: validation accuracy {pct(result.get('best_value'))}"
    if result.get("best_test_acc") is not None:
        text += f", test accuracy {pct(result['best_test_acc'])} (never optimised on)"
    if rows:
        text += "; baselines on the same split: " + ", ".join(f"{r['name']} {r['val']} (test {r['test']})"
                                                               for r in rows)
    return {"number": result["best_trial"], "value": pct(result.get("best_value")),
            "test": pct(result.get("best_test_acc")), "text": text + ".",
            "params": [{"name": k, "value": value_text(v)} for k, v in sorted(params.items())],
            "baselines": rows, "genotype": genotype_text(trial.get("genotype") or fixed_genotype),
            "ensemble": ensemble_text((stored or {}).get("ensemble"))}


def trial_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per trial for the sortable table; ``value``/``test_acc`` are the sort keys, ``*_text`` the cells."""
    best_number = result.get("best_trial")
    return [{"number": t["number"], "state": t["state"], "state_label": STATE_LABELS.get(t["state"], t["state"]),
             "value": t.get("value"), "value_text": pct(t.get("value")), "epochs": t.get("epochs") or 0,
             "params": params_text(t.get("params") or {}), "test_acc": t.get("test_acc"),
             "test_text": pct(t.get("test_acc")), "best": t["number"] == best_number,
             "error": t.get("error") or ""}
            for t in result.get("trials", [])]


def actions(exp: "Experiment", result: Mapping[str, Any]) -> dict[str, bool]:
    """Which of the page's buttons apply now."""
    problem = (exp.config or {}).get("problem")
    has_best = result.get("best_trial") is not None
    return {"cancel": exp.is_active, "resume": exp.is_resumable,
            "retrain": problem in RETRAINABLE_PROBLEMS and has_best,
            "export": problem not in RETRAINABLE_PROBLEMS and has_best}


def settings_line(exp: "Experiment") -> str:
    """The study's set-up in one sentence."""
    cfg = exp.config or {}
    space = f" (space {exp.space})" if exp.space else ""
    return (f"Problem {cfg.get('problem')}{space} on {exp.dataset or cfg.get('dataset')}: {cfg.get('trials')} trials of "
            f"{cfg.get('min_epochs')}–{cfg.get('max_epochs')} epochs, sampler {cfg.get('sampler')}, "
            f"pruner {cfg.get('pruner')}, seed {cfg.get('seed')}.")


def page_data(exp: "Experiment", study: Any, result: Mapping[str, Any], baselines: Any = None,
              stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page shows that changes while the study runs (the first render and each poll); ``stored`` is
    the finished study's result.json (its ensemble)."""
    rows = trial_rows(result)
    counts = progress(exp, result)
    complete = counts["counts"]["complete"]
    with_params = any(r["params"] != "–" for r in rows)
    figures: dict[str, Any] = {"history": study_figures.history(study, baselines),
                               "curves": study_figures.learning_curves(result.get("trials", [])),
                               **study_figures.optuna_plots(study, complete, with_params)}
    return {"id": exp.pk, "status": exp.status, "status_label": exp.get_status_display(), "active": exp.is_active,
            "error": exp.error, "progress": counts,
            "best": best(result, baselines, stored, (exp.config or {}).get("genotype")), "rows": rows,
            "figures": figures, "empty": study_figures.empty_sentences(complete, len(rows), with_params),
            "actions": actions(exp, result)}


def export_document(exp: "Experiment", result: Mapping[str, Any]) -> dict[str, Any]:
    """The best model's settings as a file: enough to train it again (its parameters, the table and the seed)."""
    cfg = exp.config or {}
    return {"study": exp.pk, "name": exp.name, "problem": cfg.get("problem"), "dataset": cfg.get("dataset"),
            "seed": cfg.get("seed"), "max_epochs": cfg.get("max_epochs"), "best_trial": result.get("best_trial"),
            "best_value": result.get("best_value"), "best_test_acc": result.get("best_test_acc"),
            "best_params": result.get("best_params")}


def compare_rows(studies: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The comparison page's table of studies: set-up, trials by state, best value and compute."""
    rows = []
    for item in studies:
        exp, result = item["experiment"], item["result"]
        cfg = exp.config or {}
        states = result.get("states", {})
        rows.append({"id": exp.pk, "name": exp.name, "problem": cfg.get("problem"), "dataset": cfg.get("dataset"),
                     "sampler": cfg.get("sampler"), "pruner": cfg.get("pruner"), "status": exp.get_status_display(),
                     "trials": f"{states.get('complete', 0)} / {states.get('pruned', 0)} / {states.get('failed', 0)}"
                               f" of {cfg.get('trials')}",
                     "best_value": result.get("best_value"), "best_text": pct(result.get("best_value")),
                     "test_text": pct(result.get("best_test_acc")), "epochs": result.get("epochs", 0),
                     "seconds": item["seconds"]})
    return rows


def compare_scatter(rows: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Best value against compute (all trials' epochs): which study found more for what it spent."""
    drawn = [r for r in rows if r["best_value"] is not None]
    if not drawn:
        return None
    return {"data": [{"type": "scatter", "mode": "markers+text", "x": [r["epochs"] for r in drawn],
                      "y": [r["best_value"] for r in drawn], "text": [f"#{r['id']} {r['name']}" for r in drawn],
                      "textposition": "top center", "marker": {"size": 11, "color": "#1f77b4"},
                      "hovertemplate": "%{text}<br>%{x} epochs: best %{y:.2%}<extra></extra>"}],
            "layout": {"title": {"text": "Best validation accuracy against epochs trained"}, "autosize": True,
                       "xaxis": {"title": {"text": "epochs trained, all trials together"}, "rangemode": "tozero"},
                       "yaxis": {"title": {"text": "best validation accuracy"}, "tickformat": ".0%"},
                       "margin": {"l": 60, "r": 20, "t": 40, "b": 50}}}
