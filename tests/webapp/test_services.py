"""Domain rules: validation, limits, state transitions, idempotent delivery, the event sink."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.webapp.support import unsent_experiment
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Status
from webapp.experiments.services import runs

pytestmark = pytest.mark.django_db


def test_clean_config_fills_defaults_and_drops_data_dir(tiny_config: dict[str, Any]) -> None:
    cfg = services.clean_config(tiny_config)
    assert cfg["space"] == "s3" and cfg["epochs"] == 3
    assert "w_lr" in cfg and "data_dir" not in cfg


def test_clean_config_names_every_bad_field() -> None:
    with pytest.raises(services.ExperimentInvalid) as err:
        services.clean_config({"space": "nope", "epochs": 0, "batch_size": "big", "bogus": 1, "data_dir": "/etc"})
    errors = err.value.errors
    assert set(errors) >= {"space", "epochs", "batch_size", "bogus", "data_dir"}
    assert "choose one of" in errors["space"]
    assert "server" in errors["data_dir"]


@override_settings(NASBOARD_MAX_EPOCHS=5, NASBOARD_MAX_BATCH_SIZE=16)
def test_clean_config_applies_server_limits() -> None:
    with pytest.raises(services.ExperimentInvalid) as err:
        services.clean_config({"epochs": 6, "batch_size": 32})
    assert "at most 5 epochs" in err.value.errors["epochs"]
    assert "at most 16" in err.value.errors["batch_size"]


def test_create_experiment_rejects_bad_input_and_stores_nothing(alice: Any) -> None:
    with pytest.raises(services.ExperimentInvalid) as err:
        services.create_experiment(alice, "  ", {"optimizer": "sgd"})
    assert set(err.value.errors) == {"name", "optimizer"}
    assert Experiment.objects.count() == 0


def test_create_experiment_routes_by_device(alice: Any, tiny_config: dict[str, Any], settings: Any) -> None:
    exp = services.create_experiment(alice, "cpu run", tiny_config)
    assert exp.status == Status.QUEUED and exp.queue == settings.NASBOARD_QUEUE_PREFIX + "cpu"
    gpu = services.create_experiment(alice, "gpu run", {**tiny_config, "device": "cuda"})
    assert gpu.queue == settings.NASBOARD_QUEUE_PREFIX + "gpu"
    assert exp.config["device"] == "cpu" and exp.seed == 0 and exp.epochs == 3


@override_settings(NASBOARD_MAX_CONCURRENT_RUNS=1)
def test_concurrent_run_limit(alice: Any, bob: Any, tiny_config: dict[str, Any]) -> None:
    first = services.create_experiment(alice, "one", tiny_config)
    with pytest.raises(services.ExperimentInvalid) as err:
        services.create_experiment(alice, "two", tiny_config)
    assert "limit is 1" in err.value.errors["limit"]
    services.create_experiment(bob, "bob's", tiny_config)  # the limit is per user
    services.cancel_experiment(first)
    services.create_experiment(alice, "two", tiny_config)  # a cancelled run does not count


def test_cancel_and_resume_transitions(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    exp = services.cancel_experiment(exp)
    assert exp.status == Status.CANCELLED and exp.ended_at is not None
    with pytest.raises(services.ActionRefused):
        services.cancel_experiment(exp)
    dispatch = exp.dispatch
    exp = services.resume_experiment(exp)
    assert exp.status == Status.QUEUED and exp.dispatch == dispatch + 1 and exp.ended_at is None
    with pytest.raises(services.ActionRefused):
        services.resume_experiment(exp)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    exp = services.cancel_experiment(exp)
    assert exp.status == Status.RUNNING and exp.cancel_requested


def test_claim_run_ignores_stale_and_duplicate_messages(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    assert runs.claim_run(exp.pk, exp.dispatch + 5, "w1@h") is None  # stale dispatch number
    claimed = runs.claim_run(exp.pk, exp.dispatch, "w1@h")
    assert claimed is not None and claimed.status == Status.RUNNING and claimed.attempts == 1
    assert runs.claim_run(exp.pk, exp.dispatch, "w2@h") is None  # alive elsewhere: a duplicate
    again = runs.claim_run(exp.pk, exp.dispatch, "w1@h")  # same worker: its pool child died
    assert again is not None and again.attempts == 2
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    taken = runs.claim_run(exp.pk, exp.dispatch, "w2@h")  # silent: another worker may take it
    assert taken is not None and taken.worker == "w2@h" and taken.attempts == 3


@override_settings(NASBOARD_MAX_ATTEMPTS=2)
def test_attempt_limit_fails_the_run(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    assert runs.claim_run(exp.pk, exp.dispatch, "w@h")
    assert runs.claim_run(exp.pk, exp.dispatch, "w@h")
    assert runs.claim_run(exp.pk, exp.dispatch, "w@h") is None
    exp.refresh_from_db()
    assert exp.status == Status.FAILED and "gave up" in exp.error


def test_requeue_lost_runs(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    runs.claim_run(exp.pk, exp.dispatch, "w@h")
    assert services.requeue_lost_runs() == []  # heartbeat is fresh
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert services.requeue_lost_runs() == [exp.pk]
    exp2 = Experiment.objects.get(pk=exp.pk)
    assert exp2.status == Status.QUEUED and exp2.dispatch == exp.dispatch + 1
    assert runs.claim_run(exp.pk, exp.dispatch, "old@h") is None  # the lost message is now stale


def _epoch(epoch: int, acc: float) -> dict[str, Any]:
    return {"type": "epoch", "v": 1, "time": 1.0, "epoch": epoch, "epochs": 3, "train_loss": 1.0, "train_acc": 0.5,
            "val_loss": 1.0, "val_acc": acc, "lr": 0.1, "seconds": 2.0}


def test_sink_upserts_replays_and_truncates(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": 1.0, "epochs": 3, "steps_per_epoch": 4, "device": "cpu", "start_epoch": 0})
    sink(2, {"type": "step", "v": 1, "time": 1.0, "epoch": 1, "step": 2, "steps_per_epoch": 4, "train_loss": 2.0, "train_acc": 0.1})
    sink(3, _epoch(1, 0.4))
    sink(4, {"type": "checkpoint", "v": 1, "time": 1.0, "epoch": 1, "path": "x"})
    sink(5, _epoch(2, 0.9))  # the lost attempt got this far past its checkpoint
    exp.refresh_from_db()
    assert exp.best_val_acc == 0.9 and exp.epochs_done == 2 and exp.last_seq == 5
    # a resumed attempt rewinds to the checkpoint and replays epoch 2 with the same numbers
    replay = runs.DatabaseSink(exp.pk)
    replay.truncate_after(4)
    exp.refresh_from_db()
    assert exp.best_val_acc == 0.4 and exp.history_rev == 1  # live pages reload what was dropped
    replay(5, {"type": "run_started", "v": 1, "time": 2.0, "epochs": 3, "steps_per_epoch": 4, "device": "cpu", "start_epoch": 1, "resumed": True})
    replay(6, _epoch(2, 0.7))
    replay(6, _epoch(2, 0.7))  # delivered twice: still one row
    seqs = list(Event.objects.filter(experiment=exp).values_list("seq", "type"))
    assert seqs == [(1, "run_started"), (2, "step"), (3, "epoch"), (4, "checkpoint"), (5, "run_started"), (6, "epoch")]
    epochs = [p["epoch"] for p in Event.objects.filter(experiment=exp, type="epoch").values_list("payload", flat=True)]
    assert epochs == [1, 2]
    exp.refresh_from_db()
    assert exp.best_val_acc == 0.7 and exp.epochs_done == 2


def test_sink_stores_nan_as_null(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    runs.DatabaseSink(exp.pk)(1, {"type": "failed", "v": 1, "time": 1.0, "epoch": 0, "reason": "nan", "loss": float("nan")})
    assert Event.objects.get(experiment=exp).payload["loss"] is None


def test_superseded_sink_writes_nothing(alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    runs.DatabaseSink(exp.pk, is_current=lambda: False)(1, _epoch(1, 0.5))
    assert not Event.objects.filter(experiment=exp).exists()


# ---- RobustDARTS settings and the stopped-early status ----------------------------------------
def test_clean_config_takes_robust_darts_settings(tiny_config: dict[str, Any]) -> None:
    cfg = services.clean_config({**tiny_config, "curvature_every": 2, "early_stop": "es", "early_stop_window": 3,
                                 "early_stop_threshold": 0.8})
    assert (cfg["curvature_every"], cfg["early_stop"], cfg["early_stop_window"], cfg["early_stop_threshold"]) == (2, "es", 3, 0.8)
    from nascore.config import defaults

    plain = services.clean_config(tiny_config)  # omitted: the engine's defaults
    assert {k: plain[k] for k in ("curvature_every", "early_stop", "early_stop_window", "early_stop_threshold")} == \
        {k: defaults()[k] for k in ("curvature_every", "early_stop", "early_stop_window", "early_stop_threshold")}


@pytest.mark.parametrize(
    "overrides, messages",
    [
        ({"early_stop": "sometimes"}, {"early_stop": "unknown early_stop 'sometimes'; choose one of: none, es, ada"}),
        ({"early_stop_window": 0, "early_stop_threshold": -1, "curvature_every": -2},
         {"early_stop_window": "positive integer", "early_stop_threshold": "positive number",
          "curvature_every": "non-negative integer"}),
        ({"early_stop": "es", "curvature_every": 0}, {"early_stop": "set curvature_every to a positive"}),
        ({"early_stop": "ada", "ada_factor": 1}, {"ada_factor": "greater than 1"}),
        ({"early_stop": "es", "optimizer": "enas"}, {"early_stop": "no continuous architecture parameters"}),
    ],
)
def test_clean_config_names_bad_robust_darts_settings(tiny_config: dict[str, Any], overrides: dict[str, Any],
                                                      messages: dict[str, str]) -> None:
    with pytest.raises(services.ExperimentInvalid) as err:
        services.clean_config({**tiny_config, **overrides})
    assert set(err.value.errors) == set(messages)
    for key, text in messages.items():
        assert text in err.value.errors[key], err.value.errors[key]


def _stopped_early_outcome(out_dir: Any) -> Any:
    from nascore.runner import RunOutcome

    reason = ("DARTS-ES stopped the search after epoch 2 of 3 and returns the architecture of epoch 1, "
              "1 curvature point before: the curvature of the validation loss grew.")
    genotype = {"normal": [["sep_conv_3x3", 0], ["skip_connect", 1]], "normal_concat": [2],
                "reduce": [["max_pool_3x3", 0], ["skip_connect", 1]], "reduce_concat": [2]}
    last = {**genotype, "normal": [["skip_connect", 0], ["skip_connect", 1]]}
    result = {"status": "stopped_early", "genotype": genotype, "last_genotype": last, "returned_epoch": 1,
              "metrics": {"val_acc": 0.5, "best_val_acc": 0.6}, "epochs_completed": 2, "genotype_params": 99,
              "early_stop": {"trigger_epoch": 2, "returned_epoch": 1, "reason": reason},
              "collapse": {"genotype": {"skip_connections": {"normal": 1, "reduce": 1}, "parameter_free": {"normal": 1, "reduce": 2}},
                           "last_genotype": {"skip_connections": {"normal": 2, "reduce": 1}, "parameter_free": {"normal": 2, "reduce": 2}}}}
    return RunOutcome(status="stopped_early", result=result, out_dir=out_dir), reason


def test_run_that_stopped_early_keeps_its_result_and_reason(alice: Any, tiny_config: dict[str, Any], monkeypatch: Any) -> None:
    import nascore.runner
    from webapp.experiments.presenters.serializers import experiment_to_dict

    exp = services.create_experiment(alice, "es", {**tiny_config, "early_stop": "es", "early_stop_window": 1})
    outcome, reason = _stopped_early_outcome(services.artifact_dir(exp))
    monkeypatch.setattr(nascore.runner, "run_search", lambda *a, **k: outcome)
    assert runs.run_dispatched(exp.pk, exp.dispatch, "w@h") == Status.STOPPED_EARLY
    exp.refresh_from_db()
    assert exp.status == Status.STOPPED_EARLY and exp.stop_reason == reason and exp.ended_at and not exp.error
    assert not exp.is_resumable and not exp.is_active
    data = experiment_to_dict(exp)
    assert data["status"] == "stopped_early" and data["stop_reason"] == reason
    assert data["result"]["returned_epoch"] == 1 and data["result"]["genotype"]["normal"][0] == ["sep_conv_3x3", 0]
    assert data["result"]["collapse"]["last_genotype"]["skip_connections"]["normal"] == 2
    with pytest.raises(services.ActionRefused):
        services.cancel_experiment(exp)
    with pytest.raises(services.ActionRefused):
        services.resume_experiment(exp)


def test_stored_curvature_events_gain_the_criterion_the_engine_now_sends(alice: Any, tiny_config: dict[str, Any]) -> None:
    """Migration 0004: curvature events stored before carry no ratio; it is filled in per DARTS-ADA round, with the
    experiment's window and threshold, by the engine's own function."""
    import importlib

    from django.apps import apps

    from nascore.early_stopping import should_stop
    from webapp.experiments.models import Event

    exp = unsent_experiment(alice, "old ada", {**tiny_config, "early_stop": "ada", "early_stop_window": 1})
    points = [(1, 0.1, 0), (2, 0.3, 0), (2, 0.12, 1), (3, 0.13, 1)]  # the second epoch 2: measured after a roll-back
    for seq, (epoch, eig, round_) in enumerate(points, start=1):
        Event.objects.create(experiment=exp, seq=seq, type="curvature",
                             payload={"epoch": epoch, "eigenvalue": eig, "trace": None, "round": round_})
    migration = importlib.import_module("webapp.experiments.migrations.0004_curvature_ratio")
    migration.fill_ratios(apps, None)
    got = [e.payload for e in Event.objects.filter(experiment=exp).order_by("seq")]
    assert [p["ratio"] for p in got] == [None, pytest.approx(0.1 / 0.3), None, pytest.approx(0.12 / 0.13)]
    assert all(p["window"] == 1 and p["threshold"] == 0.75 for p in got)
    assert got[1]["ratio"] == pytest.approx(should_stop([0.1, 0.3], 1, 0.75).ratio)
