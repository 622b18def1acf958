"""HPO studies on real Celery workers (subprocesses), the test PostgreSQL (Optuna's tables beside Django's) and Redis:
created through the API, run to the end, shared by two workers, cancelled and resumed, a killed worker's trial
failed and retried; and the input and ownership checks, with nothing stored on a refusal."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Any, Callable

import pytest
from django.test import Client, override_settings

from tests.webapp.support import ended, token_for
from webapp.experiments.models import Experiment, Kind, Result, Status
from webapp.experiments.services import studies
from webapp.experiments.services.optuna_storage import load_study, storage, study_name

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: six quick trials of a tabular network on breast_cancer, Hyperband over 1..3 epochs
SETTINGS = {"problem": "tabular", "dataset": "breast_cancer", "trials": 6, "min_epochs": 1, "max_epochs": 3,
            "pruner": "hyperband", "sampler": "tpe", "seed": 0}


def post(client: Client, url: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def optuna_names() -> set[str]:
    import optuna

    return {s.study_name for s in optuna.get_all_study_summaries(storage())}


def trial_states(exp: Experiment) -> list[str]:
    return [t.state.name for t in load_study(exp).get_trials(deepcopy=False)]


def running(exp: Experiment) -> list[Any]:
    """The study's running trials (a tabular trial runs for a fraction of a second once its worker is warm)."""
    return [t for t in load_study(exp).get_trials(deepcopy=False) if t.state.name == "RUNNING"]


def same_parameters(lost: Any, retry: Any) -> bool:
    """A retry keeps every parameter its lost trial had chosen (one killed before choosing some draws the rest)."""
    return lost.params.items() <= retry.params.items()


def test_a_study_created_through_the_api_runs_to_its_end(shared_worker: Any, client: Client, alice: Any,
                                                         wait_for: Callable[..., Any]) -> None:
    auth = token_for(alice)
    answer = post(client, "/api/studies", {**SETTINGS, "name": "tabular study"}, auth)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["status"] == "queued" and body["trials"] == 6 and body["settings"]["pruner"] == "hyperband"
    assert answer["Location"] == f"/api/studies/{body['id']}"
    exp = wait_for(lambda: ended(body["id"]), 180, "the study to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{shared_worker.log()[-3000:]}"
    assert exp.kind == Kind.STUDY and exp.epochs_done == 6 and exp.progress == 1.0 and exp.best_val_acc is not None

    detail = client.get(f"/api/studies/{exp.pk}", **auth).json()
    assert detail["status"] == "finished" and detail["trials_done"] == 6
    assert sum(detail["states"].values()) == 6 and detail["states"]["complete"] >= 1
    assert detail["states"]["running"] == detail["states"]["waiting"] == 0
    assert detail["best_value"] == exp.best_val_acc and detail["best_params"] and detail["best_trial"] is not None
    assert set(detail["baselines"]) and detail["links"]["trials"] == f"/api/studies/{exp.pk}/trials"

    trials = client.get(f"/api/studies/{exp.pk}/trials", **auth).json()["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    for t in trials:
        assert t["state"] in ("complete", "pruned") and t["params"] and t["started_at"] and t["completed_at"]
        assert list(t["intermediate_values"]) == [str(e) for e in range(1, t["epochs"] + 1)]
        assert t["value"] == t["intermediate_values"][str(t["epochs"])]
    assert all(t["epochs"] == 3 for t in trials if t["state"] == "complete")

    result = Result.objects.get(experiment=exp)
    assert result.best_val_acc == exp.best_val_acc and result.genotype == {}
    saved = json.loads(open(result.artifacts["result.json"]).read())
    assert len(saved["trials"]) == 6 and saved["baselines"] == detail["baselines"]

    # the generic experiment API knows it too; it has no events
    generic = client.get(f"/api/experiments/{exp.pk}", **auth).json()
    assert generic["kind"] == "study" and generic["result"]["best_val_acc"] == exp.best_val_acc
    assert client.get(f"/api/experiments/{exp.pk}/events", **auth).json()["events"] == []
    listed = client.get("/api/studies", {"status": "finished"}, **auth).json()
    assert [s["id"] for s in listed["results"]] == [exp.pk] and listed["results"][0]["trials_done"] == 6

    # deleting the study deletes its trials
    name = study_name(exp)
    assert name in optuna_names()
    exp.delete()
    assert name not in optuna_names()


@pytest.mark.timeout(420)
def test_two_workers_share_a_study(start_worker: Callable[..., Any], alice: Any, wait_for: Callable[..., Any]) -> None:
    prefix = os.environ["NASBOARD_QUEUE_PREFIX"] + "pair-"
    start_worker("pair-a", queue_prefix=prefix)
    start_worker("pair-b", queue_prefix=prefix)
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = studies.create_study(alice, {**SETTINGS, "trials": 8, "pruner": "none"}, name="pair")
    exp = wait_for(lambda: ended(exp.pk), 240, "the study to end")
    assert exp.status == Status.FINISHED, exp.error
    trials = load_study(exp).get_trials(deepcopy=False)
    assert len(trials) == 8 and all(t.state.name == "COMPLETE" for t in trials)
    spans = sorted((t.datetime_start, t.datetime_complete) for t in trials)
    overlapping = sum(1 for (s1, e1), (s2, e2) in zip(spans, spans[1:]) if s2 < e1)
    assert overlapping >= 1, f"no two trials ran at once: {spans}"


def test_cancel_stops_a_running_study_and_resume_finishes_it(shared_worker: Any, client: Client, alice: Any,
                                                              wait_for: Callable[..., Any]) -> None:
    auth = token_for(alice)
    body = post(client, "/api/studies", {**SETTINGS, "trials": 12, "pruner": "none"}, auth).json()
    exp = Experiment.objects.get(pk=body["id"])
    wait_for(lambda: trial_states(exp).count("COMPLETE") >= 2, 120, "two trials to end")
    answer = client.post(f"/api/studies/{exp.pk}/cancel", **auth)
    assert answer.status_code in (200, 202), answer.content
    asked = time.time()
    exp = wait_for(lambda: ended(exp.pk), 30, "the study to stop")
    assert exp.status == Status.CANCELLED and not exp.cancel_requested
    assert time.time() - asked < 10
    before = load_study(exp).get_trials(deepcopy=False)
    assert 2 <= len(before) < 12 and not [t for t in before if t.state.name == "RUNNING"]
    assert client.post(f"/api/studies/{exp.pk}/cancel", **auth).status_code == 409

    assert client.post(f"/api/studies/{exp.pk}/resume", **auth).status_code == 202
    exp = wait_for(lambda: ended(exp.pk), 180, "the resumed study to end")
    assert exp.status == Status.FINISHED, exp.error
    after = load_study(exp).get_trials(deepcopy=False)
    assert len(after) == 12 and exp.epochs_done == 12
    kept = {t.number: (t.state, t.params) for t in before}
    assert {t.number: (t.state, t.params) for t in after if t.number in kept} == kept
    assert client.post(f"/api/studies/{exp.pk}/resume", **auth).status_code == 409  # finished


@pytest.mark.timeout(420)
def test_a_killed_workers_trial_is_failed_and_retried(start_worker: Callable[..., Any], alice: Any,
                                                      wait_for: Callable[..., Any]) -> None:
    prefix = os.environ["NASBOARD_QUEUE_PREFIX"] + "lost-"
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = studies.create_study(alice, {**SETTINGS, "trials": 5, "max_epochs": 3, "pruner": "none",
                                           "dataset": "digits_table"}, name="lost")
    lost = None
    for attempt in range(4):  # a trial takes about a second: kill while one runs (retry if the kill fell between)
        worker = start_worker(f"lost-{attempt}", queue_prefix=prefix)
        wait_for(lambda: running(exp), 120, "a trial to run", interval=0.05)
        worker.kill()
        left = running(exp)
        if left:
            lost = left[0]
            break
    assert lost is not None, "never killed a worker in the middle of a trial"
    start_worker("rescuer", queue_prefix=prefix)  # the reaper sends the silent study again
    exp = wait_for(lambda: ended(exp.pk), 240, "the study to end")
    assert exp.status == Status.FINISHED, exp.error
    trials = load_study(exp).get_trials(deepcopy=False)
    failed = next(t for t in trials if t.number == lost.number)
    assert failed.state.name == "FAIL"
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == lost.number)
    assert lost.params.items() <= failed.params.items() and same_parameters(failed, retry)
    assert retry.state.name == "COMPLETE"
    assert len(studies.counted_trials(trials)) == 5 and len(trials) == 6 and exp.epochs_done == 5


@pytest.mark.timeout(420)
def test_a_trial_lost_beside_a_live_worker_is_retried_by_it(start_worker: Callable[..., Any], alice: Any,
                                                            wait_for: Callable[..., Any]) -> None:
    """Two workers share a study and one is killed mid-trial: the other fails the lost trial once its heartbeat's
    grace is over and runs its retry, with no reaper needed (the study's heartbeat never stops)."""
    prefix = os.environ["NASBOARD_QUEUE_PREFIX"] + "half-"
    doomed = start_worker("half-doomed", queue_prefix=prefix)
    start_worker("half-live", queue_prefix=prefix)
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = studies.create_study(alice, {**SETTINGS, "trials": 10, "pruner": "none", "dataset": "digits_table"},
                                   name="half lost")

    def doomed_running() -> list[Any]:
        return [t for t in running(exp) if t.user_attrs.get("worker", "").startswith(doomed.name)]

    lost = wait_for(doomed_running, 120, "a trial of the doomed worker", interval=0.05)[0]
    doomed.kill()
    exp = wait_for(lambda: ended(exp.pk), 240, "the study to end")
    assert exp.status == Status.FINISHED, exp.error
    trials = load_study(exp).get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    if by_number[lost.number].state.name == "COMPLETE":
        pytest.skip("the kill came after the trial was told")  # it had ended: nothing was lost
    assert by_number[lost.number].state.name == "FAIL"
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == lost.number)
    assert same_parameters(by_number[lost.number], retry) and retry.state.name == "COMPLETE"
    assert "half-live" in retry.user_attrs["worker"] and exp.attempts == 1  # never sent again
    assert len(studies.counted_trials(trials)) == 10 and exp.epochs_done == 10


def test_a_task_hands_over_after_its_time(start_worker: Callable[..., Any], alice: Any,
                                          wait_for: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """With NASBOARD_STUDY_TASK_SECONDS=0 every task runs one trial and sends its successor: the study still ends
    with exactly its trials."""
    prefix = os.environ["NASBOARD_QUEUE_PREFIX"] + "relay-"
    monkeypatch.setenv("NASBOARD_STUDY_TASK_SECONDS", "0")
    worker = start_worker("relay", queue_prefix=prefix)
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix, NASBOARD_STUDY_TASKS=1):
        exp = studies.create_study(alice, {**SETTINGS, "trials": 4}, name="relay")
    exp = wait_for(lambda: ended(exp.pk), 120, "the study to end")
    assert exp.status == Status.FINISHED and exp.epochs_done == 4, exp.error
    assert len(load_study(exp).get_trials(deepcopy=False)) == 4
    wait_for(lambda: worker.log().count("'handed over'") >= 4, 30, "a hand-over per trial")


@pytest.mark.parametrize("bad, fields", [
    ({"sampler": "annealing"}, {"sampler"}),
    ({"min_epochs": 5, "max_epochs": 3}, {"min_epochs"}),
    ({"space": "/etc/space.yaml", "colour": "red"}, {"space", "colour"}),
    ({"data_dir": "/etc", "config": "/etc/passwd", "trials": "many"}, {"data_dir", "config", "trials"}),
    ({"name": "   ", "parent": 999999}, {"name", "parent"}),
])
def test_bad_settings_are_refused_with_every_problem_and_nothing_stored(client: Client, alice: Any, bad: dict[str, Any],
                                                                        fields: set[str]) -> None:
    before = optuna_names()
    answer = post(client, "/api/studies", {**SETTINGS, **bad}, token_for(alice))
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["error"] == "the study was not created" and fields <= set(body["errors"]), body
    assert not Experiment.objects.exists() and optuna_names() == before


def test_another_user_cannot_read_or_act_on_a_study(client: Client, alice: Any, bob: Any) -> None:
    with override_settings(NASBOARD_QUEUE_PREFIX=os.environ["NASBOARD_QUEUE_PREFIX"] + "nobody-"):
        exp = studies.create_study(alice, SETTINGS)  # no worker takes it
    assert exp.name == "HPO tabular breast_cancer"
    theirs = token_for(bob)
    for url in (f"/api/studies/{exp.pk}", f"/api/studies/{exp.pk}/trials"):
        assert client.get(url, **theirs).status_code == 404
    for url in (f"/api/studies/{exp.pk}/cancel", f"/api/studies/{exp.pk}/resume"):
        assert client.post(url, **theirs).status_code == 404
    assert client.get("/api/studies", **theirs).json()["count"] == 0
    assert client.get(f"/api/studies/{exp.pk}", **token_for(alice)).status_code == 200


def test_trial_times_are_aware(alice: Any) -> None:
    """The trial list's times carry their offset (Optuna stores naive local times)."""
    from webapp.experiments.selectors.studies import _aware

    assert datetime.fromisoformat(_aware(datetime(2026, 1, 1, 12))).tzinfo is not None


def test_the_admin_shows_a_studys_trials(client: Client, alice: Any, make_user: Any) -> None:
    import optuna

    with override_settings(NASBOARD_QUEUE_PREFIX=os.environ["NASBOARD_QUEUE_PREFIX"] + "nobody-"):
        exp = studies.create_study(alice, SETTINGS, name="in the admin")
    study = load_study(exp)
    lr = optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.01}, distributions={"lr": lr}, value=0.875,
                                              user_attrs={"test_acc": 0.5}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, params={"lr": 0.5},
                                              distributions={"lr": lr}, intermediate_values={1: 0.25}))
    client.force_login(make_user("root", staff=True))
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="root").update(is_superuser=True)
    page = client.get(f"/admin/experiments/experiment/{exp.pk}/change/").content.decode()
    assert "HPO study" in page and "2 trials (1 complete, 1 pruned)" in page and "best value 0.8750" in page
    listing = client.get("/admin/experiments/experiment/", {"kind__exact": "study"}).content.decode()
    assert "in the admin" in listing


def test_a_study_whose_problem_cannot_be_set_up_fails_with_its_reason(shared_worker: Any, alice: Any,
                                                                       wait_for: Callable[..., Any]) -> None:
    exp = studies.create_study(alice, {**SETTINGS, "dataset": "csv:no_such_table"})
    exp = wait_for(lambda: ended(exp.pk), 120, "the study to fail")
    assert exp.status == Status.FAILED and "no_such_table" in exp.error and "cannot be set up" in exp.error, exp.error


def test_a_study_whose_every_trial_failed_ends_failed_with_the_first_reason(alice: Any) -> None:
    import optuna

    from nascore.hpo.study import make_problem

    with override_settings(NASBOARD_QUEUE_PREFIX=os.environ["NASBOARD_QUEUE_PREFIX"] + "nobody-"):
        exp = studies.create_study(alice, {**SETTINGS, "trials": 2})
    study = load_study(exp)
    for reason in ("RuntimeError: the loss became nan", "ValueError: no"):
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"error": reason}))
    problem = make_problem(studies.worker_settings(exp), None)
    assert studies._next_step(exp.pk, study, problem, "here").what == "failed"
    exp.refresh_from_db()
    assert exp.status == Status.FAILED and exp.ended_at is not None and exp.epochs_done == 2
    assert exp.error == "every one of the 2 trials failed; trial 0: RuntimeError: the loss became nan"
    assert Result.objects.get(experiment=exp).raw["states"] == {"complete": 0, "pruned": 0, "failed": 2}


def test_a_trial_asked_for_by_a_task_lost_before_its_first_heartbeat_is_failed_and_retried(alice: Any) -> None:
    """A task killed between asking Optuna for a trial and beating its first heartbeat leaves a running trial that
    Optuna never fails (it fails a trial only by its heartbeat), and the study would wait on it for ever. The next
    task, under the study's lock, fails it and takes its retry (same parameters) instead."""
    from nascore.hpo.study import make_problem

    with override_settings(NASBOARD_QUEUE_PREFIX=os.environ["NASBOARD_QUEUE_PREFIX"] + "nobody-"):
        exp = studies.create_study(alice, {**SETTINGS, "trials": 2})
    study = load_study(exp)
    orphan = study.ask()  # ... and its task died here, before storage().record_heartbeat(orphan._trial_id)
    orphan.suggest_float("x", 0, 1)
    problem = make_problem(studies.worker_settings(exp), None)
    step = studies._next_step(exp.pk, study, problem, "here")
    assert step.what == "trial"
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert by_number[orphan.number].state.name == "FAIL"
    taken = by_number[step.trial.number]
    assert taken.system_attrs.get("failed_trial") == orphan.number and taken.state.name == "RUNNING"
    assert same_parameters(by_number[orphan.number], taken)
    assert len(studies.counted_trials(list(by_number.values()))) == 1  # the retry replaces it: one of two trials
