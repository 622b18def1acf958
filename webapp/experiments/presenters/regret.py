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
    unit = axis_unit(config, runs)
    point = last_point(runs, unit)
    if point is None:
        return {}
    seconds = unit == "seconds"
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


# ---- which protocol produced a regret curve ----------------------------------------------------------
def run_protocol(config: dict[str, Any], blackbox: dict[str, Any] | None, table: Any | None) -> dict[str, Any] | None:
    """What a table search searched on and paid per query, and the sentence that says it: the schedule of the reward
    is the one recorded in its result (``blackbox.reward_epochs``), else that of the table imported now; None for a
    search that was not a table search (its queries cost real training)."""
    if config.get("evaluator") != "table":
        return None
    from nascore.benchmarks.search import cost_label, table_epochs

    epochs = (blackbox or {}).get("reward_epochs")
    if not isinstance(epochs, int):
        epochs = table_epochs(table) if table is not None else None
    query_cost = config.get("query_cost", "table")
    reward = f"{epochs}-epoch validation accuracy" if epochs else "the table's validation accuracy"
    cost = cost_label(epochs, query_cost) if epochs else ("the table's training time" if query_cost == "table"
                                                          else "12-epoch training time + one validation epoch")
    budget = ""
    if config.get("budget_unit") == "seconds":
        budget = f"; budget {fixed(config.get('budget'), 0)} simulated seconds per run"
    return {"reward_epochs": epochs, "query_cost": query_cost, "budget": config.get("budget"),
            "budget_unit": config.get("budget_unit", "queries"),
            "text": f"Protocol: reward {reward}; cost per query {cost}{budget}."}


def _reference_protocol() -> dict[str, Any]:
    from webapp.experiments.presenters.leaderboard import reference

    return reference()["sources"]["nb201_blackbox"]["protocol"]


def matches_paper(protocol: dict[str, Any] | None) -> bool:
    """Whether a run's figures may stand beside NAS-Bench-201's black-box rows: the paper's cost per query (12 epochs,
    read or estimated) and budget (12,000 simulated seconds per run).  The reward's schedule is said beside them."""
    if not protocol:
        return False
    paper = _reference_protocol()
    return (protocol["query_cost"] == paper["query_cost"] and protocol["budget_unit"] == paper["budget_unit"]
            and protocol["budget"] == paper["budget"])


def paper_rows(space: str, dataset: str, protocols: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """NAS-Bench-201's black-box rows with their citation, when every run shown follows the paper's protocol
    (:func:`matches_paper`), else None; ``note`` says whether the rewards differ (200-epoch versus 12-epoch)."""
    from webapp.experiments.presenters.leaderboard import reference

    if not protocols or not all(matches_paper(p) for p in protocols):
        return None
    ref = reference()
    rows = [r for r in ref["results"] if r.get("role") == "blackbox" and r["space"] == space and r["dataset"] == dataset]
    if not rows:
        return None
    source = ref["sources"]["nb201_blackbox"]
    paper_epochs = source["protocol"]["reward_epochs"]
    differing = sorted({p["reward_epochs"] for p in protocols if p and p["reward_epochs"] != paper_epochs})
    note = (f"Same cost per query and budget as the paper; the rewards differ: the paper's {paper_epochs}-epoch "
            f"validation accuracy, this table's {', '.join(map(str, differing))}-epoch one (a less noisy signal)."
            if differing else "Same reward, cost per query and budget as the paper.")
    return {"citation": source["citation"], "note": note,
            "rows": [{"method": r["label"], "optimizer": r.get("optimizer"),
                      "text": f"{r['label']}: validation {fixed(r['val_pct'], 2)} ± {fixed(r['val_std_pct'], 2)}%, "
                              f"test {fixed(r['test_pct'], 2)} ± {fixed(r['test_std_pct'], 2)}%"} for r in rows]}
