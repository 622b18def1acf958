"""``python -m nascore bench --hpo``: what joint studies reach on bundled tables over seeds, beside the baselines,
and the epochs Hyperband saves against no pruning at the same number of trials (a benchmark, not a test)."""
from __future__ import annotations

import statistics
from typing import Any, Sequence


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 4),
            "std": round(statistics.pstdev(values), 4) if len(values) > 1 else 0.0}


def measure_studies(datasets: Sequence[str], seeds: int, trials: int, min_epochs: int, max_epochs: int,
                    sampler: str = "tpe", ensemble: int | None = None) -> dict[str, Any]:
    """Per dataset and seed: a Hyperband study and the same study without pruning (best validation accuracy, that
    trial's test accuracy, epochs, seconds), the baselines, the Hyperband study's ensemble of its ``ensemble`` best
    trials where asked for, and their means and standard deviations over seeds."""
    from nascore.hpo.study import run_study

    report: dict[str, Any] = {"trials": trials, "min_epochs": min_epochs, "max_epochs": max_epochs,
                              "sampler": sampler, "seeds": seeds, "datasets": {}}
    for dataset in datasets:
        rows = []
        for seed in range(seeds):
            row: dict[str, Any] = {"seed": seed}
            for pruner in ("hyperband", "none"):
                result = run_study({"dataset": dataset, "trials": trials, "min_epochs": min_epochs,
                                    "max_epochs": max_epochs, "sampler": sampler, "pruner": pruner, "seed": seed,
                                    "ensemble": ensemble if pruner == "hyperband" else None})
                row[pruner] = {"best_val": result["best_value"], "best_test": result["best_test_acc"],
                               "epochs": result["epochs"], "pruned": result["states"]["pruned"],
                               "seconds": result["seconds"]}  # the trials' time, not the baselines'
                row["baselines"] = result["baselines"]
                if result.get("ensemble"):
                    row["ensemble"] = {"val_acc": result["ensemble"]["val_acc"],
                                       "test_acc": result["ensemble"]["test_acc"]}
            rows.append(row)
        summary = {pruner: {key: _mean_std([r[pruner][key] for r in rows])
                            for key in ("best_val", "best_test", "epochs", "seconds")}
                   for pruner in ("hyperband", "none")}
        summary["baselines"] = {name: {key: _mean_std([r["baselines"][name][key] for r in rows])
                                       for key in ("val_acc", "test_acc")} for name in rows[0]["baselines"]}
        if all("ensemble" in r for r in rows):
            summary["ensemble"] = {key: _mean_std([r["ensemble"][key] for r in rows]) for key in ("val_acc", "test_acc")}
        summary["epochs_saved_by_hyperband"] = round(
            1 - summary["hyperband"]["epochs"]["mean"] / summary["none"]["epochs"]["mean"], 3)
        summary["trials_per_minute_one_worker"] = round(
            60 * trials / summary["hyperband"]["seconds"]["mean"], 1)
        report["datasets"][dataset] = {"summary": summary, "runs": rows}
    return report
