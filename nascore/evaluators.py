"""How a black-box search scores the architectures it proposes, and the checks that go with it.

* ``train``: each candidate is trained briefly from freshly initialised weights on the search's training
  split and scored on its validation split (:mod:`nascore.optimizers.blackbox`), inside the runner's epochs.
* ``table``: each candidate's validation accuracy is looked up in a tabular benchmark the user imported
  (:mod:`nascore.benchmarks`); the search runs ``runs`` seeded runs of ``budget`` queries (or, with
  ``budget_unit: seconds``, of ``budget`` simulated training seconds: each query costs its cell's training
  time in the table) in seconds (:mod:`nascore.benchmarks.runner`) and reports the test accuracy of the cell
  each returns.
"""
from __future__ import annotations

from typing import Any

#: evaluators by name, with what they do (the form's choices)
EVALUATORS: dict[str, str] = {
    "train": "a short stand-alone training of each candidate on the search's data",
    "table": "a lookup in an imported tabular benchmark (NAS-Bench-201)",
}
#: what a table search's ``budget`` counts per seeded run, with what it means (the form's choices)
BUDGET_UNITS: dict[str, str] = {
    "queries": "queries: architectures looked up",
    "seconds": "seconds: simulated training time (each query costs its cell's training time in the table)",
}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def evaluator_errors(cfg: dict[str, Any]) -> dict[str, str]:
    """Problems with ``evaluator``, ``budget``, ``budget_unit``, ``runs``, ``reinforce_lr`` and ``benchmark_dir`` in a config
    dict (defaults filled in), as ``{field: message}``; the table evaluator needs a black-box method, a space
    and dataset a benchmark covers, and an imported table."""
    from nascore.benchmarks import table_problem
    from nascore.optimizers import OPTIMIZERS

    errors: dict[str, str] = {}
    evaluator = cfg["evaluator"]
    if evaluator not in EVALUATORS:
        errors["evaluator"] = f"evaluator must be one of {', '.join(EVALUATORS)}, not {evaluator!r}"
    unit = cfg["budget_unit"]
    if unit not in BUDGET_UNITS:
        errors["budget_unit"] = (f"budget_unit must be 'queries' (architectures looked up per seeded run) or "
                                 f"'seconds' (simulated training seconds per seeded run), not {unit!r}")
    per_run = "simulated training seconds per seeded run" if unit == "seconds" else "queries per seeded run"
    for name, what in (("budget", per_run), ("runs", "seeded runs")):
        if not _positive_int(cfg[name]):
            errors[name] = f"{name} must be a positive integer ({what}), not {cfg[name]!r}"
    lr = cfg["reinforce_lr"]
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not 0 < lr < float("inf"):
        errors["reinforce_lr"] = f"reinforce_lr must be a positive number, not {lr!r}"
    store = cfg["benchmark_dir"]
    if store is not None and (not isinstance(store, str) or not store):
        errors["benchmark_dir"] = "benchmark_dir must be a folder path (or empty for the default)"
    cls = OPTIMIZERS.get(cfg["optimizer"])
    if errors or cls is None or evaluator not in EVALUATORS:
        return errors
    black_box = sorted(name for name, c in OPTIMIZERS.items() if getattr(c, "black_box", False))
    if evaluator == "table":
        if not getattr(cls, "black_box", False):
            errors["evaluator"] = (f"the table evaluator scores the architectures a black-box method proposes "
                                   f"({', '.join(black_box)}); {cfg['optimizer']} trains a supernet instead")
        else:
            problem = table_problem(cfg["space"], cfg["dataset"], store)
            if problem:
                errors["evaluator"] = problem
        if cfg.get("select_samples"):
            errors["select_samples"] = ("a table run returns the cell with the best validation accuracy; there is "
                                        "nothing to retrain, leave select_samples empty or 0")
    else:
        if cfg["runs"] != 1:
            errors["runs"] = (f"{cfg['runs']} seeded runs in one experiment need the table evaluator (evaluator: "
                              "table); a trained search is one run, its seed is `seed`")
        if unit == "seconds":
            errors["budget_unit"] = ("a budget in simulated seconds needs the table evaluator (evaluator: table): the "
                                     "seconds are the table's training times; a trained search runs `epochs` epochs")
    return errors
