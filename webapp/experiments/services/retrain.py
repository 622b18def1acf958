"""Retraining: the stand-alone training from scratch of the architecture a search found.

A retrain is an Experiment of kind ``retrain`` whose ``parent`` is the search. It runs through the same
machinery as a search (dispatch numbers, claim, heartbeat, cancel, resume, lost-worker requeue in
``services``); only the engine call differs: ``nascore.evaluation.train.evaluate_genotype`` with a checkpoint
in the run's artifact folder, so a cancelled or lost retrain continues from its last epoch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from nascore.config import ConfigError
from webapp.experiments.models import COMPLETED_STATUSES, Experiment, Kind, Result
from webapp.experiments.services import experiments as actions
from webapp.experiments.services.json_values import jsonable

#: settings the server decides, or the search fixes (the space and dataset are the search's own)
SERVER_FIELDS = {
    "data_dir": "is set by the server (NASBOARD_DATA_DIR)",
    "download": "is not allowed from the dashboard: workers read datasets from NASBOARD_DATA_DIR",
    "num_workers": "is set by the server",
    "step_log_every": "is set by the server",
    "space": "is the search's space",
    "dataset": "is the search's dataset",
}
#: the settings the retrain form shows; the API accepts every other engine setting too
FORM_FIELDS = ("epochs", "channels", "layers", "batch_size", "steps_per_epoch", "seed", "device")
#: where a retrain's engine config keeps the architecture it trains
GENOTYPE_KEY = "genotype"


def engine_defaults() -> dict[str, Any]:
    """The engine's stand-alone training defaults (DARTS's protocol, 20 epochs)."""
    from nascore.evaluation.train import eval_defaults

    return eval_defaults()


def retrain_initial(search: Experiment) -> dict[str, Any]:
    """Initial form values: the engine's defaults, with the search's seed and device."""
    cfg = engine_defaults()
    return {"epochs": cfg["epochs"], "channels": cfg["channels"], "layers": cfg["layers"],
            "batch_size": cfg["batch_size"], "steps_per_epoch": cfg["steps_per_epoch"], "seed": search.seed,
            "device": search.device_requested or "auto"}


def check_retrainable(search: Experiment) -> Any:
    """The genotype to retrain, or ActionRefused saying why this experiment cannot be retrained."""
    if search.kind == Kind.STUDY:  # NAS then HPO, or joint: the best trial's architecture
        from webapp.experiments.services.study_results import best_final

        return best_final(search)["genotype"]
    if search.kind != Kind.SEARCH:
        raise actions.ActionRefused(f"experiment #{search.pk} is itself a retrain; retrain its search "
                                     f"#{search.parent_id} instead" if search.parent_id else
                                     f"experiment #{search.pk} is itself a retrain")
    if search.status not in COMPLETED_STATUSES:
        raise actions.ActionRefused(f"experiment #{search.pk} is {search.status}; only a finished (or stopped early) "
                                     "search has an architecture to retrain")
    result = Result.objects.filter(experiment=search).only("genotype").first()
    if result is None or not result.genotype:
        raise actions.ActionRefused(f"experiment #{search.pk} has no result with an architecture to retrain")
    return result.genotype


def clean_retrain_config(search: Experiment, raw: Any) -> dict[str, Any]:
    """The full engine config of a retrain of ``search`` (defaults filled in, genotype included), or
    ExperimentInvalid naming every problem. Empty values (None, "") take the engine's default."""
    from nascore.evaluation.train import EVAL_FIELD_NAMES, validate_eval_config
    from nascore.spaces import GenotypeError, get_space

    if not isinstance(raw, dict):
        raise actions.ExperimentInvalid({"config": f"must be a JSON object of settings, not {type(raw).__name__}"})
    errors: dict[str, str] = {}
    known = [f for f in EVAL_FIELD_NAMES if f not in SERVER_FIELDS]
    for key in raw:
        if key in SERVER_FIELDS:
            errors[str(key)] = f"{key} {SERVER_FIELDS[key]}; leave it out"
        elif key not in known:
            errors[str(key)] = f"unknown setting {key!r}; known settings: {', '.join(known)}"
    given = {k: v for k, v in raw.items() if k in known and v not in (None, "")}
    device = given.get("device", search.device_requested or "auto")
    if device not in actions.DEVICES:
        errors["device"] = f"unknown device {device!r}; choose one of: {', '.join(actions.DEVICES)}"
    given.setdefault("seed", search.seed)
    given["device"] = device
    cfg: dict[str, Any] | None = None
    try:
        cfg = validate_eval_config({**given, "space": search.space, "dataset": search.dataset}).to_dict()
    except ConfigError as exc:
        errors.update({str(k): str(v) for k, v in exc.errors.items() if k not in errors})
    if cfg is not None:
        if cfg["epochs"] > settings.NASBOARD_MAX_EPOCHS:
            errors["epochs"] = f"at most {settings.NASBOARD_MAX_EPOCHS} epochs are allowed on this server, not {cfg['epochs']}"
        if cfg["batch_size"] > settings.NASBOARD_MAX_BATCH_SIZE:
            errors["batch_size"] = (f"the batch size may be at most {settings.NASBOARD_MAX_BATCH_SIZE} on this server, "
                                    f"not {cfg['batch_size']}")
    genotype = check_retrainable(search)
    try:
        get_space(search.space).resolve(genotype)
    except (GenotypeError, KeyError, ValueError) as exc:
        errors["genotype"] = f"the search's architecture cannot be built in space {search.space}: {exc}"
    if errors:
        raise actions.ExperimentInvalid(errors)
    assert cfg is not None
    for key in ("data_dir", "download", "num_workers"):
        cfg.pop(key, None)
    cfg[GENOTYPE_KEY] = genotype
    return cfg


def default_name(search: Experiment) -> str:
    return f"retrain of #{search.pk} {search.name}"[:200]


def create_retrain(search: Experiment, settings_: Any, name: Any = None) -> Experiment:
    """Validate, store and queue the retrain of ``search``; it belongs to the search's owner (a staff member may
    start it for them) and counts towards that owner's run limit. On any problem nothing is stored."""
    check_retrainable(search)  # a refusal (409) comes before any complaint about the settings
    errors: dict[str, str] = {}
    try:
        cfg = clean_retrain_config(search, settings_)
    except actions.ExperimentInvalid as exc:
        errors.update(exc.errors)
    if name in (None, ""):
        name = default_name(search)
    try:
        name = actions.clean_name(name)
    except actions.ExperimentInvalid as exc:
        errors.update(exc.errors)
    if errors:
        raise actions.ExperimentInvalid(errors)
    owner = search.owner
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()  # serialise the owner's creations
        actions.check_run_limit(owner)
        retrain = Experiment.objects.create(
            owner=owner,
            name=name,
            kind=Kind.RETRAIN,
            parent=search,
            config=cfg,
            space=search.space,
            optimizer=search.optimizer,  # the method that found the architecture, for grouping and comparison
            dataset=search.dataset,
            seed=cfg["seed"],
            device_requested=cfg["device"],
            queue=actions.queue_for(cfg["device"]),
            epochs=cfg["epochs"],
            dispatch=1,
        )
    try:
        actions.send_run(retrain)
    except actions.BrokerUnavailable:
        retrain.delete()
        raise
    return retrain


# ---- on the worker ----------------------------------------------------------------------
@dataclass
class RetrainOutcome:
    status: str  # "finished" or "cancelled"
    result: dict[str, Any]


def run_retrain(experiment: Experiment, out_dir: Path, sink: Callable[[int, dict], None],
                stop_check: Callable[[], bool]) -> RetrainOutcome:
    """Train the retrain's architecture with its config; events go to ``events.jsonl`` and ``sink``.

    Raises SearchFailed (the message is the reason shown to the user) when training cannot go on.
    """
    from nascore.evaluation.train import (
        EVAL_FIELD_NAMES,
        EvaluationFailed,
        evaluate_genotype,
    )
    from nascore.events import JsonlSink
    from nascore.runner import SearchFailed
    from nascore.spaces import GenotypeError

    config = dict(experiment.config)
    genotype = config.pop(GENOTYPE_KEY, None)
    eval_config = {k: v for k, v in config.items() if k in EVAL_FIELD_NAMES}
    eval_config["data_dir"] = str(settings.NASBOARD_DATA_DIR)
    checkpoint = out_dir / "checkpoint.pt"
    if not checkpoint.exists():  # a fresh start: an earlier attempt's files describe another run
        for name in ("events.jsonl", "result.json"):
            (out_dir / name).unlink(missing_ok=True)
    try:
        result = evaluate_genotype(experiment.space, genotype, eval_config, sinks=[JsonlSink(out_dir / "events.jsonl"), sink],
                                   stop_check=stop_check, checkpoint=checkpoint)
    except (EvaluationFailed, GenotypeError, ValueError) as exc:
        raise SearchFailed(str(exc)) from exc
    if result["status"] == "finished":
        (out_dir / "result.json").write_text(json.dumps(jsonable(result), indent=2), encoding="utf-8")
    return RetrainOutcome(status=result["status"], result=result)


def save_retrain_result(experiment: Experiment, result: dict[str, Any], out_dir: Path) -> Result:
    """Store the retrained network's figures: test accuracy (the final epoch's, as DARTS reports), params, FLOPs."""
    result = jsonable(result)
    artifacts = {name: str(out_dir / name) for name in ("result.json", "events.jsonl", "checkpoint.pt") if (out_dir / name).exists()}

    def num(key: str) -> Any:
        value = result.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    saved, _ = Result.objects.update_or_create(
        experiment=experiment,
        defaults={
            "genotype": result.get("genotype"),
            "train_acc": num("train_acc"),
            "train_loss": num("train_loss"),
            "val_acc": None,
            "best_val_acc": None,
            "val_loss": None,
            "test_acc": num("test_acc"),
            "params": num("params"),
            "arch_params": None,
            "flops": num("flops"),
            "epochs_completed": int(result.get("epochs") or 0),
            "artifacts": artifacts,
            "raw": result,
        },
    )
    return saved
