"""What a study left for others to use: its settings as a worker runs them, and the best trial's architecture and
training for a final retrain (read by the retrain service too, which the study service in turn calls: this module
imports neither)."""
from __future__ import annotations

from typing import Any

from django import conf

from webapp.experiments.models import Experiment, Result
from webapp.experiments.services import experiments
from webapp.experiments.services import optuna_storage as storage
from webapp.experiments.services.json_values import jsonable


def worker_settings(exp: Experiment) -> dict[str, Any]:
    """The study's settings as a worker runs them: the server's data folder added."""
    return {**exp.config, "data_dir": str(conf.settings.NASBOARD_DATA_DIR)}


def best_final(exp: Experiment) -> dict[str, Any]:
    """What a final retrain of the study's best complete trial needs: ``{space, genotype, train}`` (the problem's
    ``final``: retrain and joint studies), or ActionRefused saying why there is none (a tabular study, no complete
    trial yet).  A finished study's stored result is read; a running one's best so far is taken."""
    from nascore.hpo.study import PROBLEMS, make_problem, summarize

    cfg = worker_settings(exp)
    if not hasattr(PROBLEMS.get(cfg.get("problem"), object), "final"):
        raise experiments.ActionRefused(f"study #{exp.pk} tunes problem {cfg.get('problem')}, which has no "
                                        "architecture to retrain; export its best settings instead")
    stored = Result.objects.filter(experiment=exp).only("raw").first()
    if stored is not None and isinstance(stored.raw, dict) and stored.raw.get("final"):
        return stored.raw["final"]
    best = summarize(storage.load_study(exp), cfg)["best_params"]
    if best is None:
        raise experiments.ActionRefused(f"no trial of study #{exp.pk} has completed yet; retrain once one has")
    return jsonable(make_problem(cfg, None).final(best))
