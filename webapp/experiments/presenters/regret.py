"""The black-box section's words on the experiment page: the regret plot's title and the line under it.

The plot itself is drawn by static/js/regret.js from the query events; its last point is what this module words,
computed the same way (mean ± population standard deviation over the runs that got that far, against queries or
simulated training seconds), so the line and the plot's end agree.
"""
from __future__ import annotations

import statistics
from typing import Any, Sequence

from nascore.optimizers.components.samplers import SAMPLER_TITLES
from webapp.experiments.presenters.formats import fixed, is_number


#: the regret plot's legend entries on the experiment page
TRACE_LABELS = {"valid": "best validation so far (mean over the seeded runs)", "test": "test accuracy of that cell"}


def has_seconds(runs: Sequence[dict[str, Any]]) -> bool:
    """Whether every run has simulated times (table lookups), so a seconds axis means something."""
    return bool(runs) and all(is_number(r.get("end")) and all(is_number(s[1]) for s in r["steps"]) for r in runs)


def axis_unit(config: dict[str, Any], runs: Sequence[dict[str, Any]]) -> str:
    """The regret plot's axis on the experiment page: seconds for a table run with budget_unit seconds."""
    return "seconds" if config.get("budget_unit") == "seconds" and has_seconds(runs) else "queries"


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), statistics.pstdev(values)


def last_point(runs: Sequence[dict[str, Any]], unit: str) -> dict[str, Any] | None:
    """The regret curve's last point: where the furthest run got, and the best validation (and its cell's test
    accuracy) over the runs that got there; None before any run has a best."""
    seconds = unit == "seconds"
    key = 1 if seconds else 0
    extents = [r["end"] if seconds else r["n"] for r in runs]
    reached = [e for e in extents if is_number(e)]
    if not reached:
        return None
    x = max(reached)
    best = []
    for run, extent in zip(runs, extents):
        steps = [s for s in run["steps"] if is_number(s[key]) and s[key] <= x]
        if steps and is_number(extent) and extent >= x:
            best.append(steps[-1])
    if not best:
        return None
    valid = _mean_std([s[2] for s in best if is_number(s[2])])
    test = _mean_std([s[3] for s in best if is_number(s[3])])
    return {"x": x, "valid": valid, "test": test}


def _runs_text(runs: Sequence[dict[str, Any]]) -> str:
    n = len(runs)
    return f"{n} run{'s' if n > 1 else ''}"


def blackbox_lines(optimizer: str, config: dict[str, Any], runs: Sequence[dict[str, Any]],
                   optimum_valid: float | None) -> dict[str, str]:
    """``blackbox_title`` and ``blackbox_summary`` of the experiment page, for the runs stored so far."""
    point = last_point(runs, axis_unit(config, runs))
    if point is None:
        return {}
    seconds = axis_unit(config, runs) == "seconds"
    at = f"{fixed(point['x'], 0)} simulated training seconds" if seconds else f"{point['x']} queries"
    seeds = ", ".join(str(r["seed"]) for r in runs)
    (valid_mean, valid_std), (test_mean, test_std) = point["valid"], point["test"]
    text = f"{_runs_text(runs)} (seeds {seeds}); after {at}: best validation {fixed(valid_mean, 2)} ± {fixed(valid_std, 2)}%"
    if test_mean is not None:
        text += f", test accuracy of that cell {fixed(test_mean, 2)} ± {fixed(test_std, 2)}%"
    if optimum_valid is not None and valid_mean is not None:
        text += f"; regret {fixed(optimum_valid - valid_mean, 3)} points of validation accuracy"
    title = f"{SAMPLER_TITLES.get(optimizer, optimizer)}: {len(runs)} seeded run{'s' if len(runs) > 1 else ''}"
    return {"blackbox_title": title, "blackbox_summary": text}
