"""A black-box search scored by a tabular benchmark (``evaluator: table``), run like any search.

``runs`` seeded runs (seeds ``seed``, ``seed + 1``, ...), each with a budget of ``budget`` queries or, with
``budget_unit: seconds``, of ``budget`` simulated training seconds (each query costs its cell's training time in
the table; a run stops at the first query that brings its time to the budget, so its last query may overrun it).
Each run is an "epoch" of the run's events, each query a "step" (with a time budget the steps are the simulated
seconds spent, so progress and ETA follow the budget): the run emits the usual events (``run_started``, ``step``,
``epoch``, ``arch``, ``genotype``, ``checkpoint``, ``finished`` or ``failed``) plus one ``query`` per
query (:class:`~nascore.events.Query`: the best validation so far and that cell's test accuracy, what a
regret plot needs).  ``epoch`` events carry the table's figures of the cell the run returns (accuracies as
fractions, like every ``epoch`` event); ``query`` events carry percentages, as the benchmark does.

A checkpoint after each seeded run holds the finished runs; a stopped run resumes with the next seeded
run and replays the same events with the same sequence numbers.  ``result.json`` holds the returned cell
(the best validation accuracy over all runs), every run's summary and the curves: mean and standard deviation
over runs of the best validation accuracy so far and of its cell's test accuracy, per query (``queries``) or,
with a time budget, at :data:`TIME_POINTS` evenly spaced simulated times up to the budget (``seconds``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nascore import run_folder
from nascore.benchmarks import load_table
from nascore.benchmarks.nb201 import code_arch
from nascore.benchmarks.search import (Trajectory, cost_label, curves, curves_over_time, query_costs, search_table,
                                      table_epochs)
from nascore.config import ConfigError, SearchConfig, validate_config
from nascore.early_stopping import collapse_counts
from nascore.events import ArchDistribution, EpochMetrics, GenotypeDerived, LogMessage, Query, RunStarted, StepMetrics
from nascore.optimizers.components.samplers import PolicySampler, sampler_settings
from nascore.optimizers.components.sampling import FrequencyCounter
from nascore.run_folder import ProgressCallback, RunOutcome, SearchFailed, check_resumable, tensor_rows
from nascore.spaces import get_space
from nascore.versions import package_versions

DEVICE = "table"
#: points of the curves of a time budget in result.json (the live page draws every query)
TIME_POINTS = 100


class TableSearchRun:
    """One table search in one output folder (see the module docstring)."""

    def __init__(self, config: dict[str, Any] | SearchConfig, out_dir: str | Path,
                 sinks: Sequence[Callable[[int, dict], None]] = (), stop_check: Callable[[], bool] | None = None,
                 progress: ProgressCallback | None = None):
        self.cfg = validate_config(config)
        if self.cfg.evaluator != "table":
            raise ValueError(f"a table search needs evaluator 'table', not {self.cfg.evaluator!r}")
        self.out = Path(out_dir)
        self.stop_check = stop_check
        self.progress = progress
        self.table = load_table(self.cfg.space, self.cfg.dataset, self.cfg.benchmark_dir)
        if self.cfg.budget_unit == "seconds" and not float(query_costs(self.table, self.cfg.query_cost).min()) > 0:
            raise ConfigError({"budget_unit": "the table has cells whose training time is 0 s, so a budget in seconds "
                                              "cannot bound a run; give the budget in queries"})
        self.space = get_space(self.cfg.space)
        self.masks = {ct: self.space.op_mask(ct) for ct in self.space.cell_types}
        self.settings = sampler_settings(self.cfg)
        self.bus = run_folder.event_bus(self.out, sinks)
        self.epoch = 0  # seeded runs finished
        self.runs: list[dict[str, Any]] = []  # per finished run: its queries (codes, valid, test, cost) and seed
        self.counter = FrequencyCounter(self.masks)
        self.policy: dict[str, list[list[float]]] | None = None  # reinforce: the last run's final policy

    # ---- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        state = run_folder.checkpoint_state(self.bus, self.epoch, self.cfg, kind="table", runs=self.runs,
                                            counter=self.counter.state_dict(), policy=self.policy)
        return run_folder.save_checkpoint(self.out, self.bus, state)

    def try_resume(self) -> bool:
        state = run_folder.load_checkpoint(self.out)
        if state is None:
            return False
        if state.get("kind") != "table":
            raise SearchFailed(f"the checkpoint in {self.out} was written by a search that trains a network, "
                               "not by a table search; use a new output folder or resume=False")
        check_resumable(state["config"], self.cfg, self.out)
        self.epoch, self.runs, self.policy = state["epoch"], state["runs"], state["policy"]
        self.counter.load_state_dict(state["counter"])
        self.bus.rewind(state["seq"])
        return True

    def clear_outputs(self) -> None:
        run_folder.clear_outputs(self.out)

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self, resume: bool = True) -> RunOutcome:
        resumed = resume and self.try_resume()
        if not resumed:
            self.clear_outputs()
        self.bus.emit(RunStarted(config=self.cfg.to_dict(), versions=package_versions(), device=DEVICE,
                                 epochs=self.cfg.runs, steps_per_epoch=self.cfg.budget, start_epoch=self.epoch,
                                 resumed=resumed))
        with run_folder.reporting_failures(self.bus, lambda: self.epoch):
            while self.epoch < self.cfg.runs:
                if not self.seeded_run():
                    return self.finish("cancelled")
        return self.finish("finished")

    @property
    def seconds_budget(self) -> bool:
        return self.cfg.budget_unit == "seconds"

    def budget_kwargs(self) -> dict[str, int]:
        """The budget as :func:`search_table` takes it."""
        return {"seconds": self.cfg.budget} if self.seconds_budget else {"queries": self.cfg.budget}

    def seeded_run(self) -> bool:
        """One seeded run within the budget; False if the stop check ended it (nothing of it is kept)."""
        started = time.time()
        run, seed = self.epoch + 1, self.cfg.seed + self.epoch
        best: dict[str, Any] = {}
        train_loss, train_acc = self.table.metric("train_loss"), self.table.metric("train_acc")
        sampler: list[Any] = []  # the run's sampler, seen in the first query
        stopped = [False]

        def on_query(i: int, info: dict[str, Any]) -> None:
            self.counter.add(info["arch"])
            if not sampler:
                sampler.append(info["sampler"])
            if not best or info["valid_acc"] > best["valid_acc"]:
                best.update(info, query=i + 1)
            self.bus.emit(Query(run=run, seed=seed, query=i + 1, genotype=code_arch(info["code"]),
                                valid_acc=info["valid_acc"], test_acc=info["test_acc"],
                                best_valid_acc=best["valid_acc"], best_test_acc=best["test_acc"],
                                best_genotype=code_arch(best["code"]), best_query=best["query"], cost=info["cost"],
                                elapsed=info["elapsed"]))
            # progress counts queries, or with a time budget the whole simulated seconds spent (at most the budget)
            step = min(self.cfg.budget, int(info["elapsed"])) if self.seconds_budget else i + 1
            loss, acc = float(train_loss[best["code"]]), float(train_acc[best["code"]]) / 100
            if self.progress is not None:
                self.progress(run, step, self.cfg.budget, loss)
            if (i + 1) % self.cfg.step_log_every == 0 or i == 0:
                self.bus.emit(StepMetrics(epoch=run, step=step, steps_per_epoch=self.cfg.budget, train_loss=loss,
                                          train_acc=acc))

        def stop_check() -> bool:
            if self.stop_check is not None and self.stop_check():
                stopped[0] = True
            return stopped[0]

        counter_before = self.counter.state_dict()
        trajectory = search_table(self.table, self.cfg.optimizer, seed, settings=self.settings, on_query=on_query,
                                  stop_check=stop_check, query_cost=self.cfg.query_cost, **self.budget_kwargs())
        if stopped[0] or not len(trajectory):
            self.counter.load_state_dict(counter_before)
            return False
        if sampler and isinstance(sampler[0], PolicySampler):
            self.policy = {ct: tensor_rows_np(p) for ct, p in sampler[0].probabilities().items()}
        self.runs.append({"seed": seed, "codes": trajectory.codes.tolist(), "valid": trajectory.valid.tolist(),
                          "test": trajectory.test.tolist(), "cost": trajectory.cost.tolist()})
        self.epoch += 1
        returned = self.table.query(trajectory.returned()["code"])
        self.bus.emit(EpochMetrics(epoch=self.epoch, epochs=self.cfg.runs, train_loss=returned.train_loss,
                                   train_acc=returned.train_acc / 100, val_loss=returned.valid_loss,
                                   val_acc=returned.valid_acc / 100, lr=float("nan"), seconds=time.time() - started))
        self.bus.emit(ArchDistribution(epoch=self.epoch, kind=self.distribution_kind(),
                                       cells=self.distribution_payload()))
        self.bus.emit(GenotypeDerived(epoch=self.epoch, genotype=returned.arch, **collapse_counts(returned.arch)))
        self.save_checkpoint()
        return True

    # ---- what the run shows -----------------------------------------------------------------------
    def distribution_kind(self) -> str:
        return "policy" if self.policy is not None else "frequency"

    def distribution(self) -> dict[str, list[list[float]]]:
        """The last REINFORCE policy, or how often each op was proposed on each edge over all runs."""
        if self.policy is not None:
            return self.policy
        return {ct: tensor_rows(p) for ct, p in self.counter.frequencies().items()}

    def distribution_payload(self) -> dict[str, Any]:
        return {ct: {"edges": self.space.edge_labels(ct), "ops": list(self.space.ops), "weights": rows}
                for ct, rows in self.distribution().items()}

    def trajectories(self) -> list[Trajectory]:
        return [Trajectory(self.cfg.optimizer, r["seed"], np.array(r["codes"], dtype=np.int64), np.array(r["valid"]),
                           np.array(r["test"]), np.array(r["cost"])) for r in self.runs]

    def result(self, status: str) -> dict[str, Any]:
        trajectories = self.trajectories()
        summaries = [t.summary() for t in trajectories]
        result: dict[str, Any] = {
            "status": status, "space": self.cfg.space, "optimizer": self.cfg.optimizer, "order": self.cfg.order,
            "evaluator": "table", "dataset": self.cfg.dataset, "ops": list(self.space.ops),
            "edges": {ct: self.space.edge_labels(ct) for ct in self.space.cell_types},
            "alphas": self.distribution(), "genotype": None, "metrics": {}, "epochs_completed": self.epoch,
            "config": self.cfg.to_dict(), "seed": self.cfg.seed, "device": DEVICE, "versions": package_versions(),
            "blackbox": {"method": self.cfg.optimizer, "budget": self.cfg.budget, "budget_unit": self.cfg.budget_unit,
                         "runs": summaries, "curves": self.curves(trajectories) if trajectories else None,
                         "optimum": self.table.optimum(), **self.protocol()},
        }
        if summaries:
            chosen = max(summaries, key=lambda s: s["valid_acc"])  # the first run on ties
            record = self.table.query(chosen["code"])
            finals_v = np.array([s["valid_acc"] for s in summaries])
            finals_t = np.array([s["test_acc"] for s in summaries])
            result["genotype"] = record.arch
            result["metrics"] = {"train_loss": record.train_loss, "train_acc": record.train_acc / 100,
                                 "val_loss": record.valid_loss, "val_acc": record.valid_acc / 100,
                                 "best_val_acc": record.valid_acc / 100}
            result["benchmark"] = {"name": "nb201", "dataset": self.table.dataset, **record.to_dict()}
            result["blackbox"]["final"] = {"valid_mean": float(finals_v.mean()), "valid_std": float(finals_v.std()),
                                           "test_mean": float(finals_t.mean()), "test_std": float(finals_t.std())}
            result["collapse"] = {"genotype": collapse_counts(record.arch)}
            result.update(self.derived_size(record.arch))
        return result

    def protocol(self) -> dict[str, Any]:
        """Which figures the run searched on and what its queries cost, recorded with its result (the table may be
        imported again later with another schedule): ``reward_epochs``, ``query_cost``, ``cost_label``."""
        epochs = table_epochs(self.table)
        return {"reward_epochs": epochs, "query_cost": self.cfg.query_cost,
                "cost_label": cost_label(epochs, self.cfg.query_cost)}

    def curves(self, trajectories: list[Trajectory]) -> dict[str, Any]:
        """Mean ± std over runs per query, or with a time budget at ``TIME_POINTS`` simulated times up to it."""
        if not self.seconds_budget:
            return curves(trajectories, self.cfg.budget)
        grid = self.cfg.budget * np.arange(1, TIME_POINTS + 1) / TIME_POINTS
        return curves_over_time(trajectories, grid)

    def derived_size(self, genotype: str) -> dict[str, int]:
        """Parameters and MACs of the cell's network at the benchmark's size (C=16, N=5)."""
        from nascore.data import get_spec
        from nascore.evaluation.measure import count_flops, count_params

        spec = get_spec(self.cfg.dataset)
        channels = self.cfg.channels or self.space.default_channels
        layers = self.cfg.layers or self.space.default_layers
        net = self.space.build_network(genotype, channels, layers, spec.in_channels, spec.num_classes)
        return {"genotype_params": count_params(net),
                "flops": count_flops(net, (spec.in_channels, spec.image_size, spec.image_size))}

    def finish(self, status: str) -> RunOutcome:
        result = self.result(status)
        if status == "cancelled":
            self.bus.emit(LogMessage(level="warning", message=f"cancelled during seeded run {self.epoch + 1}"))
        return run_folder.finish_run(self.out, self.bus, status, self.epoch, result)


def tensor_rows_np(p: np.ndarray, digits: int = 6) -> list[list[float]]:
    return [[round(float(v), digits) for v in row] for row in p]


def describe_result(status: str, result: dict[str, Any], out: Path) -> str:
    """The few lines the CLI prints after a table search."""
    box = result["blackbox"]
    if box.get("budget_unit") == "seconds":
        queries = [r["queries"] for r in box["runs"]]
        size = f"{box['budget']:,} simulated training seconds"
        if queries:
            size += f" ({min(queries)} to {max(queries)} queries)" if min(queries) != max(queries) else f" ({queries[0]} queries)"
    else:
        size = f"{box['budget']} queries"
    lines = [f"{status}: {result['space']} / {result['optimizer']} on the {result['dataset']} table, "
             f"{len(box['runs'])} of {result['config']['runs']} seeded runs of {size}"]
    if result["genotype"] is not None:
        bench, final = result["benchmark"], box["final"]
        lines += [f"best cell: {result['genotype']}",
                  f"  validation {bench['valid_acc']:.3f}%, test {bench['test_acc']:.3f}% (the table's optimum: "
                  f"validation {box['optimum']['valid_acc']:.3f}%)",
                  f"over runs: returned cells' validation {final['valid_mean']:.3f} ± {final['valid_std']:.3f}%, "
                  f"test {final['test_mean']:.3f} ± {final['test_std']:.3f}%"]
    lines.append(f"results in {out}/ (result.json, events.jsonl, checkpoint.pt)")
    return "\n".join(lines)
