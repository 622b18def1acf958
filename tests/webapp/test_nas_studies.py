"""The three kinds of study beyond tables, on a real worker: NAS then HPO of a genotype (then its best trial
retrained with one click: lineage search -> study -> retrain), joint NAS + HPO on a DARTS-like cell space through the
API, and HPO of a search's own settings (problem config: the parent search's stored config is the base)."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from django.test import Client

from nascore.spaces import get_space
from tests.webapp.support import ended, token_for
from tests.webapp.test_curation import stored
from webapp.experiments.models import Experiment, Kind, Result, Status
from webapp.experiments.services import experiments as actions
from webapp.experiments.services import studies
from webapp.experiments.services.retrain import GENOTYPE_KEY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: two trials of a tiny network on digits, two epochs each
SMALL = {"trials": 2, "min_epochs": 1, "max_epochs": 2, "pruner": "none", "sampler": "random", "seed": 0,
         "channels": 4, "steps_per_epoch": 3, "device": "cpu"}


def test_nas_then_hpo_tunes_a_genotype_and_its_best_trial_is_retrained(shared_worker: Any, alice: Any,
                                                                         wait_for: Callable[..., Any]) -> None:
    search = stored(alice, "nb201 search")
    Experiment.objects.filter(pk=search.pk).update(space="nb201")
    Result.objects.filter(experiment=search).update(genotype="nb201_best")
    exp = studies.create_study(alice, {**SMALL, "problem": "retrain", "space": "nb201", "genotype": "nb201_best",
                                       "layers": 1}, parent=search)
    assert exp.kind == Kind.STUDY and exp.parent_id == search.pk and exp.space == "nb201" and exp.dataset == "digits"
    exp = wait_for(lambda: ended(exp.pk), 240, "the study to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{shared_worker.log()[-3000:]}"
    result = Result.objects.get(experiment=exp)
    best = result.raw["best_params"]
    assert set(best) >= {"lr", "momentum", "weight_decay", "batch_size", "drop_path", "cutout_length"}
    space = get_space("nb201")
    assert space.resolve(result.genotype) == space.resolve("nb201_best")  # the architecture stays the search's

    retrain = studies.retrain_best(exp, alice)
    try:
        assert retrain.kind == Kind.RETRAIN and retrain.parent_id == exp.pk and retrain.space == "nb201"
        for name in ("lr", "momentum", "weight_decay", "batch_size", "drop_path", "cutout_length"):
            assert retrain.config[name] == best[name], name  # the best trial's hyperparameters, by their names
        assert space.resolve(retrain.config[GENOTYPE_KEY]) == space.resolve("nb201_best")
    finally:
        actions.cancel_experiment(retrain)  # a full-size retrain is not what this test waits for


def test_joint_nas_and_hpo_on_a_darts_like_space_through_the_api(shared_worker: Any, client: Client, alice: Any,
                                                                  wait_for: Callable[..., Any]) -> None:
    auth = token_for(alice)
    answer = client.post("/api/studies", data=json.dumps({**SMALL, "problem": "joint", "space": "s3", "layers": 3}),
                         content_type="application/json", **auth)
    assert answer.status_code == 201, answer.content
    exp = wait_for(lambda: ended(answer.json()["id"]), 240, "the study to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{shared_worker.log()[-3000:]}"
    trials = client.get(f"/api/studies/{exp.pk}/trials", **auth).json()["trials"]
    assert len(trials) == 2
    for trial in trials:  # the architecture's choices are parameters of the study beside the training's
        assert any(name.startswith("arch.normal.node") for name in trial["params"]) and "lr" in trial["params"]
    final = Result.objects.get(experiment=exp).raw["final"]
    space = get_space("s3")
    genotype = space.resolve(final["genotype"])
    assert space.path_of(genotype)  # a genotype the s3 supernet runs
    assert final["train"]["lr"] == client.get(f"/api/studies/{exp.pk}", **auth).json()["best_params"]["lr"]


def test_a_searchs_settings_are_tuned_with_its_config_as_the_base(shared_worker: Any, alice: Any, bob: Any,
                                                                   tiny_config: dict[str, Any],
                                                                   wait_for: Callable[..., Any]) -> None:
    search = stored(alice, "tiny search")
    Experiment.objects.filter(pk=search.pk).update(config={**tiny_config, "epochs": 3,
                                                           "seed": 0, "optimizer": "darts"})
    search.refresh_from_db()
    settings = {"problem": "config", "param": ["w_lr=0.005:0.1:log"], "trials": 2, "min_epochs": 1, "max_epochs": 1,
                "pruner": "none", "sampler": "random"}
    with pytest.raises(studies.StudyInvalid) as refused:  # no search named: nothing to tune
        studies.create_study(alice, settings)
    assert "parent" in refused.value.errors
    with pytest.raises(studies.StudyInvalid) as refused:  # a range the setting itself refuses, named by its place
        studies.create_study(alice, {**settings, "param": ["w_lr=-1:0.1"]}, parent=search)
    assert "param[0]" in refused.value.errors
    with pytest.raises(studies.StudyInvalid) as refused:  # a file on the server is never named by a request
        studies.create_study(alice, {**settings, "config": "/etc/passwd"}, parent=search)
    assert "config" in refused.value.errors
    assert Experiment.objects.filter(kind=Kind.STUDY).count() == 0

    exp = studies.create_study(alice, settings, parent=search)
    assert exp.dataset == search.dataset and exp.device_requested == "cpu"
    assert json.loads(open(exp.config["config"]).read()) == search.config  # the base, where every worker reads it
    exp = wait_for(lambda: ended(exp.pk), 300, "the study to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{shared_worker.log()[-3000:]}"
    trials = Result.objects.get(experiment=exp).raw["trials"]
    assert [t["state"] for t in trials] == ["complete", "complete"]
    assert all(0.005 <= t["params"]["w_lr"] <= 0.1 and t["epochs"] == 1 for t in trials)
