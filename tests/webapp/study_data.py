"""Hyperparameter studies for the page tests, run synchronously in the test database's Optuna tables: a tabular
problem of 3 epochs a trial (about a second each), without a worker or the study service."""
from __future__ import annotations

from typing import Any

from nascore.hpo.study import make_problem, run_trial, validate_study
from webapp.experiments.models import Experiment, Kind, Status
from webapp.experiments.services.optuna_storage import load_study

#: a small tabular study: Hyperband may stop a trial after its first epoch
SMALL = {"problem": "tabular", "dataset": "breast_cancer", "trials": 6, "min_epochs": 1, "max_epochs": 3,
         "sampler": "tpe", "pruner": "hyperband", "seed": 0}


def make_study(owner: Any, name: str = "tune the table", run: int = 4, status: str = Status.RUNNING,
               parent: Experiment | None = None, **changes: Any) -> Experiment:
    """A study experiment with ``run`` trials already run (as a worker would have)."""
    cfg = validate_study({**SMALL, **changes})
    exp = Experiment.objects.create(owner=owner, name=name, kind=Kind.STUDY, config=cfg, space="tabular",
                                    optimizer=cfg["sampler"], dataset=cfg["dataset"], seed=cfg["seed"],
                                    device_requested="cpu", queue="not-sent", status=status, dispatch=1,
                                    parent=parent)
    if run:
        study = load_study(exp)
        problem = make_problem(cfg, None)
        for _ in range(run):
            run_trial(study, problem, cfg)
    return exp


def close_optuna_connections() -> None:
    """Close the pooled connections Optuna's engine holds on the test database, which could not be dropped at the
    end of the session otherwise (the engine stays usable: it reconnects when next asked)."""
    from webapp.experiments.services.optuna_storage import storage

    storage().engine.dispose()
