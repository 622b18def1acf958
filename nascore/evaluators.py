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

from typing import Any, Mapping

from nascore.settings import Settings, setting

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


class EvaluatorSettings(Settings):
    """How a black-box search scores its candidates, and how large a table search is."""

    title = "Black-box search"
    group = "blackbox"

    evaluator: str = setting("train", "train: a short stand-alone training of each candidate; table: look each up in "
                                      "an imported tabular benchmark.", choices=EVALUATORS,
                             source="NASBoard's choice: train works on every space and dataset", label='Evaluator')
    budget: int = setting(150, "Table search: per seeded run, queries or simulated training seconds (budget_unit).",
                          gt=0, hint="queries or simulated training seconds per seeded run",
                          source="NASBoard's choice", label='Budget per run (table)')
    budget_unit: str = setting("queries", "What budget counts: queries (architectures looked up) or seconds (each "
                                          "query costs its cell's training time in the table).", choices=BUDGET_UNITS,
                               source="NASBoard's choice; NAS-Bench-201 (Dong and Yang, ICLR 2020) budgets seconds", label='Budget unit (table)')
    query_cost: str = setting("table", "Table search with budget_unit seconds: what one query costs. table: the "
                                       "cell's training time in the table; 12_epochs: NAS-Bench-201's black-box "
                                       "protocol (12 epochs' training + one validation epoch; estimated x 12/200 "
                                       "from a 200-epoch table).",
                              choices=lambda: _query_costs(),
                              source="NASBoard's choice (what seconds meant before); NAS-Bench-201 (Dong and Yang, "
                                     "ICLR 2020), section 5, and AutoDL-Projects exps/algos/R_EA.py: 12_epochs",
                              label="Cost per query (table)")
    runs: int = setting(1, "Table search: seeded runs (seeds seed, seed + 1, ...) for mean and spread.", gt=0,
                        hint="seeded runs", source="NASBoard's choice", label='Seeded runs (table)')
    benchmark_dir: str | None = setting(None, "Where imported tables are.", min_length=1,
                                        expects="a folder path (or empty for the default)",
                                        none_means="$NASCORE_BENCHMARK_DIR or ~/.nascore/benchmarks",
                                        source="NASBoard's choice", label='Benchmark folder')

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        return evaluator_errors(config)


def _query_costs() -> dict[str, str]:
    from nascore.benchmarks.search import QUERY_COSTS

    return QUERY_COSTS


def evaluator_errors(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Problems between the evaluator and the method, space and dataset (settings already type-checked), as
    ``{field: message}``: the table evaluator needs a black-box method, a space and dataset a benchmark covers,
    and an imported table."""
    from nascore.benchmarks import table_problem
    from nascore.optimizers import OPTIMIZERS

    errors: dict[str, str] = {}
    evaluator, unit = cfg["evaluator"], cfg["budget_unit"]
    store = cfg["benchmark_dir"]
    cls = OPTIMIZERS.get(cfg["optimizer"])
    if cls is None:
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
        if cfg["query_cost"] != "table":
            errors["query_cost"] = ("a cost per query prices the lookups of a table search (evaluator: table); a "
                                    "trained search pays its real training time")
        if unit == "seconds":
            errors["budget_unit"] = ("a budget in simulated seconds needs the table evaluator (evaluator: table): the "
                                     "seconds are the table's training times; a trained search runs `epochs` epochs")
    return errors
