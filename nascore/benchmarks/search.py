"""Black-box search on a tabular benchmark: hundreds of seeded runs in seconds.

A sampler from :data:`~nascore.optimizers.components.samplers.SAMPLERS` proposes cells; each query looks
up the cell's *validation* accuracy, which is all the search sees; the *test* accuracy of the cell the
search would return (the best validation so far) is recorded beside it and never fed back.  A budget is a
number of queries, or simulated training seconds: each query costs the cell's training time in the table
(``train_time``: all epochs), and the search stops once the time spent reaches the budget.

The samplers draw from the generator ``generator_for(seed, "<method>-sampler")``, as the runner's
optimizers do, so a seed means the same thing in both places.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import torch

from nascore.benchmarks.nb201 import NB201Table, code_arch, columns_code
from nascore.optimizers.components.samplers import SAMPLERS, SamplerSettings, make_sampler
from nascore.optimizers.components.sampling import generator_for
from nascore.spaces import get_space

#: what a query costs in simulated seconds under the ``table`` cost model: the table's training time over all epochs
COST_METRIC = "train_time"
#: the schedule of NAS-Bench-201's black-box protocol: each query trains its cell for 12 epochs
PROTOCOL_EPOCHS = 12
#: the schedule whose figures a table holds when it does not say (the CSV layout is the 200-epoch export)
DEFAULT_TABLE_EPOCHS = 200

#: what one query of a table search costs in simulated seconds, with what it means (the form's choices)
QUERY_COSTS: dict[str, str] = {
    "table": "table: the cell's training time in the table (all the epochs its figures come from)",
    "12_epochs": "12_epochs: NAS-Bench-201's black-box protocol, 12 epochs of training plus one epoch of "
                 "validation (from a 200-epoch table: its training time x 12/200, an estimate)",
}


def table_epochs(table: NB201Table) -> int:
    """The training schedule the table's figures come from: the official files record it (12 or 200); the CSV
    layout holds the benchmark's 200-epoch figures."""
    return int(table.meta.get("epochs", DEFAULT_TABLE_EPOCHS))


def query_costs(table: NB201Table, query_cost: str = "table") -> np.ndarray:
    """Simulated seconds of one query of each cell under ``query_cost`` (:data:`QUERY_COSTS`).

    ``12_epochs`` follows AutoDL-Projects ``exps/algos/R_EA.py`` ``train_and_eval`` (the NAS-Bench-201 paper's
    searches): ``time_cost = info["train-all-time"] + info["valid-per-time"]`` of the 12-epoch schedule.  A table of
    another schedule scales its training time to 12 epochs (``train_time * 12 / epochs``): an estimate, since the
    12-epoch schedule anneals its learning rate over 12 epochs but costs the same per epoch.
    """
    if query_cost == "table":
        return table.metric(COST_METRIC)
    if query_cost != "12_epochs":
        raise ValueError(f"unknown cost model {query_cost!r}; choose one of: {', '.join(QUERY_COSTS)}")
    epochs = table_epochs(table)
    train = table.metric("train_time") * (PROTOCOL_EPOCHS / epochs)
    return train + table.metric("valid_epoch_time")


def cost_label(table_epochs_: int, query_cost: str) -> str:
    """What a query cost, in words: "200-epoch time", "12-epoch time" or "12-epoch time (estimated ...)"."""
    if query_cost == "table":
        return f"{table_epochs_}-epoch training time"
    if table_epochs_ == PROTOCOL_EPOCHS:
        return f"{PROTOCOL_EPOCHS}-epoch training time + one validation epoch"
    return (f"{PROTOCOL_EPOCHS}-epoch training time + one validation epoch (estimated: the table's "
            f"{table_epochs_}-epoch time x {PROTOCOL_EPOCHS}/{table_epochs_})")


@dataclass
class Trajectory:
    """One seeded run: every query in order (code, validation and test accuracy in %, cost in seconds)."""

    method: str
    seed: int
    codes: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def incumbent(self) -> np.ndarray:
        """Per query, the index of the best validation accuracy so far (the first on ties)."""
        best = np.maximum.accumulate(self.valid)
        firsts = np.where(self.valid == best)[0]  # queries that reach the running best
        return firsts[np.searchsorted(firsts, np.arange(len(self.valid)), side="right") - 1]

    @property
    def best_valid(self) -> np.ndarray:
        return np.maximum.accumulate(self.valid)

    @property
    def best_test(self) -> np.ndarray:
        """Test accuracy of the cell the search would return after each query."""
        return self.test[self.incumbent]

    @property
    def elapsed(self) -> np.ndarray:
        return np.cumsum(self.cost)

    def returned(self) -> dict[str, Any]:
        """The cell the run returns: the best validation accuracy it saw, and that cell's test accuracy."""
        i = int(self.incumbent[-1])
        return {"arch": code_arch(int(self.codes[i])), "code": int(self.codes[i]), "valid_acc": float(self.valid[i]),
                "test_acc": float(self.test[i]), "query": i + 1}

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "seed": self.seed, "queries": len(self),
                "simulated_seconds": float(self.cost.sum()), **self.returned()}


def space_masks() -> dict[str, torch.Tensor]:
    space = get_space("nb201")
    return {ct: space.op_mask(ct) for ct in space.cell_types}


def search_table(table: NB201Table, method: str, seed: int = 0, queries: int | None = None,
                 seconds: float | None = None, settings: SamplerSettings | None = None,
                 on_query: Callable[[int, dict[str, Any]], None] | None = None,
                 stop_check: Callable[[], bool] | None = None, query_cost: str = "table") -> Trajectory:
    """One seeded run of ``method`` on ``table`` with a budget of ``queries`` and/or simulated ``seconds``
    (whichever ends first).  ``on_query(i, info)`` is called after query ``i`` (0-based); ``stop_check``
    before each query ends the run early when it returns true; ``query_cost`` prices each query
    (:func:`query_costs`)."""
    if queries is None and seconds is None:
        raise ValueError("give a budget: a number of queries, simulated seconds, or both")
    if queries is not None and queries < 1:
        raise ValueError(f"the query budget must be a positive number, not {queries}")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"the time budget must be a positive number of seconds, not {seconds}")
    if method not in SAMPLERS:
        raise ValueError(f"unknown black-box method {method!r}; choose one of {', '.join(SAMPLERS)}")
    sampler = make_sampler(method, space_masks(), generator_for(seed, f"{method}-sampler"), settings)
    valid_of, test_of, cost_of = table.metric("valid_acc"), table.metric("test_acc"), query_costs(table, query_cost)
    codes, valid, test, cost = [], [], [], []
    spent = 0.0
    while (queries is None or len(codes) < queries) and (seconds is None or spent < seconds):
        if stop_check is not None and stop_check():
            break
        arch = sampler.ask()
        code = columns_code(arch["cell"])
        v, t, c = float(valid_of[code]), float(test_of[code]), float(cost_of[code])
        sampler.tell(arch, v)
        spent += c
        codes.append(code)
        valid.append(v)
        test.append(t)
        cost.append(c)
        if on_query is not None:
            on_query(len(codes) - 1, {"arch": arch, "code": code, "valid_acc": v, "test_acc": t, "cost": c,
                                      "elapsed": spent, "sampler": sampler})
    return Trajectory(method, seed, np.array(codes, dtype=np.int64), np.array(valid), np.array(test), np.array(cost))


def search_many(table: NB201Table, method: str, seeds: Iterable[int], queries: int | None = None,
                seconds: float | None = None, settings: SamplerSettings | None = None,
                query_cost: str = "table") -> list[Trajectory]:
    """One run per seed."""
    return [search_table(table, method, seed, queries, seconds, settings, query_cost=query_cost) for seed in seeds]


def curves(trajectories: list[Trajectory], length: int | None = None) -> dict[str, list[float]]:
    """Mean and standard deviation over runs, per query, of the best validation accuracy so far and of the
    test accuracy of that cell; a run shorter than ``length`` (a time budget) keeps its last values."""
    if not trajectories:
        raise ValueError("no runs to summarise")
    length = length or max(len(t) for t in trajectories)

    def stack(rows: list[np.ndarray]) -> np.ndarray:
        return np.stack([np.concatenate([r[:length], np.full(max(0, length - len(r)), r[-1])]) for r in rows])

    bv = stack([t.best_valid for t in trajectories])
    bt = stack([t.best_test for t in trajectories])
    return {"queries": list(range(1, length + 1)),
            "valid_mean": bv.mean(0).tolist(), "valid_std": bv.std(0).tolist(),
            "test_mean": bt.mean(0).tolist(), "test_std": bt.std(0).tolist()}


def curves_over_time(trajectories: list[Trajectory], grid: np.ndarray) -> dict[str, list[float | None]]:
    """Mean and standard deviation over runs of the best validation accuracy (and its cell's test accuracy)
    reached by each simulated time in ``grid``; None where no run has finished a query yet."""
    bv, bt = [], []
    for t in trajectories:
        idx = np.searchsorted(t.elapsed, grid, side="right") - 1
        ok = idx >= 0
        bv.append(np.where(ok, t.best_valid[np.maximum(idx, 0)], np.nan))
        bt.append(np.where(ok, t.best_test[np.maximum(idx, 0)], np.nan))
    out: dict[str, list[float | None]] = {"seconds": [float(g) for g in grid]}
    for name, rows in (("valid", np.stack(bv)), ("test", np.stack(bt))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no run has a query yet
            mean, std = np.nanmean(rows, 0), np.nanstd(rows, 0)
        out[f"{name}_mean"] = [None if np.isnan(v) else float(v) for v in mean]
        out[f"{name}_std"] = [None if np.isnan(v) else float(v) for v in std]
    return out
