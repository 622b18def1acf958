"""A hyperparameter study's pages with Django's test client: the live page and the page data it polls (every figure,
the table's rows), the best model's export, another user's 404, the new-study form (generated from StudySettings,
prefilled from the query string, every error beside its field, nothing created on bad input), studies on the list
and on their search's page.  Studies are run synchronously in the test database's Optuna tables (tests/webapp/
study_data.py); creating one through the form goes through the study service (``services.studies.create_study``)."""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
from django.test import Client

from nascore.hpo.study import StudySettings
from tests.webapp.study_data import close_optuna_connections, make_study
from tests.webapp.support import login
from tests.webapp.test_curation import stored
from webapp.experiments.models import Experiment, Kind, Status

pytestmark = pytest.mark.django_db

FIGURES = ("history", "curves", "parallel", "importance", "slice")


@pytest.fixture(autouse=True, scope="module")
def _close_optuna() -> Iterator[None]:
    yield
    close_optuna_connections()


@pytest.fixture
def study(alice: Any) -> Experiment:
    return make_study(alice, run=4)


def page_config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page has no page config"
    return json.loads(found.group(1))


def test_the_study_page_shows_progress_best_trial_figures_and_trials(client: Client, alice: Any,
                                                                      study: Experiment) -> None:
    response = login(client, alice).get(f"/experiments/{study.pk}/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "experiments/study.html"
    html = response.content.decode()
    assert 'id="kind-badge">HPO study<' in html
    bar = re.search(r'<div class="bar big" id="progress-bar"[^>]*>', html, re.S).group(0)
    assert 'role="progressbar"' in bar and 'aria-valuemax="6"' in bar and 'aria-valuenow="4"' in bar
    assert "4 of 6 trials done" in html
    assert re.search(r'id="best-text">Trial \d+: validation accuracy \d+\.\d\d%', html)
    for key in FIGURES:
        assert f'id="fig-{key}"' in html
    config = page_config(html)
    assert config["dataUrl"] == f"/experiments/{study.pk}/study.json" and config["data"]["active"] is True
    for key in FIGURES:
        assert config["data"]["figures"][key]["data"], f"figure {key} has no data"
    assert len(re.findall(r"<tr data-number=", html)) == 4
    assert 'id="cancel-form"' in html and 'id="resume-form" hidden' in html
    assert "retrain-best-button" not in html  # a tabular study exports its best settings instead
    assert 'id="export-best"' in html and 'type="module"' in html


def test_the_page_data_has_every_figure_and_a_row_per_trial(client: Client, alice: Any, study: Experiment) -> None:
    data = login(client, alice).get(f"/experiments/{study.pk}/study.json").json()
    assert set(data["figures"]) == set(FIGURES)
    for key in FIGURES:
        assert data["figures"][key]["data"] and "layout" in data["figures"][key]
    assert [r["number"] for r in data["rows"]] == [0, 1, 2, 3]
    assert {r["state"] for r in data["rows"]} <= {"complete", "pruned"}
    assert data["progress"]["done"] == 4 and data["progress"]["total"] == 6
    curves = data["figures"]["curves"]["data"]
    if any(r["state"] == "pruned" for r in data["rows"]):  # a cross where the pruner stopped each pruned trial
        marks = next(t for t in curves if t["name"] == "pruned here")
        assert len(marks["x"]) == sum(r["state"] == "pruned" for r in data["rows"])
    best = data["best"]
    assert best["number"] == next(r["number"] for r in data["rows"] if r["best"])
    assert {p["name"] for p in best["params"]} >= {"network", "lr"}


def test_importances_wait_for_two_complete_trials(client: Client, alice: Any) -> None:
    one = make_study(alice, run=1, pruner="none", trials=3)
    data = login(client, alice).get(f"/experiments/{one.pk}/study.json").json()
    assert data["figures"]["importance"] is None and data["figures"]["history"] is not None
    assert "at least two complete trials" in data["empty"]["importance"]
    html = client.get(f"/experiments/{one.pk}/").content.decode()
    assert "at least two complete trials" in html


def test_a_study_before_its_first_trial(client: Client, alice: Any) -> None:
    queued = make_study(alice, run=0, status=Status.QUEUED)
    html = login(client, alice).get(f"/experiments/{queued.pk}/").content.decode()
    assert "0 of 6 trials done" in html and "No trial has completed yet" in html
    assert 'id="trials-empty">' in html


def test_the_best_models_settings_download(client: Client, alice: Any, study: Experiment) -> None:
    response = login(client, alice).get(f"/experiments/{study.pk}/study/best.json")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    doc = response.json()
    assert doc["dataset"] == "breast_cancer" and doc["seed"] == 0 and doc["best_params"]["network"]


def test_another_user_gets_404(client: Client, alice: Any, bob: Any, study: Experiment) -> None:
    login(client, bob)
    for url in (f"/experiments/{study.pk}/", f"/experiments/{study.pk}/study.json",
                f"/experiments/{study.pk}/study/best.json"):
        assert client.get(url).status_code == 404, url
    for action in ("cancel", "resume", "retrain"):
        assert client.post(f"/experiments/{study.pk}/study/{action}").status_code == 404
    assert client.get(f"/experiments/studies/new?parent={stored(alice).pk}").status_code == 404


def test_the_form_is_generated_from_the_study_settings_and_prefilled(client: Client, alice: Any) -> None:
    search = stored(alice, "the search")
    response = login(client, alice).get(f"/experiments/studies/new?trials=7&sampler=random&parent={search.pk}")
    assert response.status_code == 200
    form = response.context["form"]
    from webapp.experiments.forms.study import SERVER_ONLY
    from webapp.experiments.services.studies import SERVER_FIELDS

    # every setting a user may give, none the server decides (its data folder, a config study's base)
    assert set(StudySettings.model_fields) - set(SERVER_FIELDS) == set(form.fields) - {"name", "parent"}
    assert set(SERVER_ONLY) == set(SERVER_FIELDS)
    html = response.content.decode()
    assert 'name="trials" value="7"' in html and '<option value="random" selected>' in html
    assert f'name="parent" value="{search.pk}"' in html and "the search" in html


def test_the_form_shows_every_error_by_its_field_and_creates_nothing(client: Client, alice: Any) -> None:
    response = login(client, alice).post("/experiments/studies/new", {
        "name": "bad", "problem": "tabular", "dataset": "iris", "trials": "0", "min_epochs": "5", "max_epochs": "2",
        "sampler": "tpe", "pruner": "hyperband", "seed": "many", "data_dir": "data"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"dataset", "trials", "min_epochs", "seed"}
    html = response.content.decode()
    assert "The study was not created" in html
    for name in ("dataset", "trials", "min_epochs", "seed"):
        assert f'id="error-{name}"' in html
        field = re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', html).group(0)
        assert f'aria-describedby="error-{name} id_{name}_helptext"' in field and 'aria-invalid="true"' in field
    assert Experiment.objects.count() == 0


def test_the_study_service_refuses_bad_settings_and_creates_nothing(alice: Any) -> None:
    from webapp.experiments.services import studies

    with pytest.raises(studies.StudyInvalid) as refused:
        studies.create_study(alice, {"trials": 0, "min_epochs": 5, "max_epochs": 2})
    assert {"trials", "min_epochs"} <= set(refused.value.errors)
    assert Experiment.objects.count() == 0


def test_the_form_creates_a_study_and_shows_its_page(client: Client, alice: Any) -> None:
    search = stored(alice, "the search")
    response = login(client, alice).post("/experiments/studies/new", {
        "name": "tune it", "problem": "tabular", "dataset": "wine", "trials": "3", "min_epochs": "1",
        "max_epochs": "2", "sampler": "random", "pruner": "none", "seed": "1", "parent": str(search.pk)})
    exp = Experiment.objects.get(kind=Kind.STUDY)
    assert response.status_code == 302 and response["Location"] == f"/experiments/{exp.pk}/"
    assert exp.owner == alice and exp.config["trials"] == 3 and exp.config["dataset"] == "wine"
    assert exp.parent_id == search.pk
    assert "0 of 3 trials done" in client.get(response["Location"]).content.decode()


def test_the_list_shows_studies_with_their_trials_and_best_value(client: Client, alice: Any,
                                                                  study: Experiment) -> None:
    stored(alice, "a search")
    html = login(client, alice).get("/").content.decode()
    assert 'href="/experiments/studies/new"' in html and "New HPO study" in html
    assert ">HPO study<" in html and "4/6 trials" in html
    best = re.search(r'class="study-best"[^>]*>([^<]+)<', html).group(1)
    assert re.fullmatch(r"\d+\.\d%", best)
    only = client.get("/?kind=study").content.decode()
    assert "tune the table" in only and "a search" not in only


def test_a_search_links_to_its_studies_and_a_study_to_its_search(client: Client, alice: Any) -> None:
    search = stored(alice, "the search")
    child = make_study(alice, "its study", run=1, parent=search)
    html = login(client, alice).get(f"/experiments/{search.pk}/").content.decode()
    tune = re.search(r'id="tune-button" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert tune.startswith("/experiments/studies/new?") and "problem=retrain" in tune
    assert f"parent={search.pk}" in tune and "space=darts" in tune and "genotype=" in tune
    assert f'href="/experiments/{child.pk}/">its study</a>' in html
    assert "Retrains" in html and f'<tr data-id="{child.pk}">' in html
    page = client.get(f"/experiments/{child.pk}/").content.decode()
    assert f'id="parent-link">#{search.pk} the search</a>' in page


def test_studies_compare_side_by_side(client: Client, alice: Any) -> None:
    first = make_study(alice, "tpe study", run=2, pruner="none", trials=2, status=Status.FINISHED)
    second = make_study(alice, "random study", run=2, sampler="random", pruner="none", trials=2,
                        status=Status.FINISHED)
    search = stored(alice, "a search")
    response = login(client, alice).get(f"/compare/?ids={first.pk},{second.pk},{search.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<tr data-id="(\d+)"><td><a href="/experiments/\d+/">#\d+ ([^<]+)</a>', html)
    assert rows == [(str(first.pk), "tpe study"), (str(second.pk), "random study")]
    assert "2 / 0 / 0 of 2" in html and "random / none" in html
    scatter = json.loads(re.search(r'<script id="study-scatter-data" type="application/json">(.*?)</script>',
                                   html, re.S).group(1))
    assert scatter["data"][0]["x"] == [6, 6]  # two complete trials of 3 epochs each
    assert "studycompare.js" in html and "a search" in html
    only = client.get(f"/compare/?ids={first.pk},{second.pk}")
    assert only.status_code == 200 and 'id="study-table"' in only.content.decode()
    assert client.get(f"/compare/export.csv?ids={first.pk},{search.pk}").status_code == 200


def test_a_finished_tabular_study_shows_its_baselines_beside_the_best(client: Client, alice: Any) -> None:
    from webapp.experiments.models import Result

    done = make_study(alice, "with baselines", run=2, pruner="none", trials=2, status=Status.FINISHED)
    Result.objects.create(experiment=done, genotype={}, raw={"baselines": {
        "random_forest": {"val_acc": 0.95, "test_acc": 0.94}, "hist_gradient_boosting": {"val_acc": 0.96, "test_acc": 0.93}}})
    data = login(client, alice).get(f"/experiments/{done.pk}/study.json").json()
    assert "baselines on the same split: random forest 95.00% (test 94.00%)" in data["best"]["text"]
    assert [s["y0"] for s in data["figures"]["history"]["layout"]["shapes"]] == [0.95, 0.96]
    assert data["active"] is False and data["actions"]["cancel"] is False
    html = client.get(f"/experiments/{done.pk}/").content.decode()
    assert "random forest 95.00%" in html and 'id="cancel-form" hidden' in html


def as_retrain_problem(exp: Experiment) -> None:
    """The study's settings as a retrain problem's (the problem only changes what the page offers; the trials were
    run as a tabular problem's)."""
    Experiment.objects.filter(pk=exp.pk).update(config={**exp.config, "problem": "retrain"})


def test_a_retrain_study_offers_to_retrain_its_best_once_a_trial_completed(client: Client, alice: Any) -> None:
    search = stored(alice, "the search")
    waiting = make_study(alice, "nothing complete", run=0, parent=search)
    tuned = make_study(alice, "tune the cell", run=1, pruner="none", parent=search)
    as_retrain_problem(waiting)
    as_retrain_problem(tuned)
    html = login(client, alice).get(f"/experiments/{waiting.pk}/").content.decode()
    assert "Retrain the best" not in html
    html = client.get(f"/experiments/{tuned.pk}/").content.decode()
    assert f'action="/experiments/{tuned.pk}/study/retrain"' in html and "Retrain the best" in html
    assert re.search(r'id="export-best"[^>]*hidden', html, re.S)  # a tabular study's export, not a retrain's


def test_the_best_trial_shows_its_architecture_and_the_ensemble() -> None:
    from webapp.experiments.presenters import study as present

    result = {"best_trial": 1, "best_value": 0.9, "best_params": {"lr": 0.1, "arch.cell.0-1": "none"},
              "trials": [{"number": 1, "state": "complete", "value": 0.9, "genotype": "|none~0|+|skip_connect~0|"}]}
    stored_result = {"ensemble": {"candidates": 3, "val_acc": 0.95, "test_acc": 0.93,
                                  "members": [{"trial": 1, "weight": 0.75}, {"trial": 4, "weight": 0.25}]}}
    best = present.best(result, None, stored_result)
    assert best["genotype"] == "|none~0|+|skip_connect~0|"  # a joint trial's own architecture
    assert best["ensemble"] == ("Ensemble of the best 3 trials by greedy ensemble selection: validation accuracy "
                                "95.00%, test accuracy 93.00%; members trial 1 (75%), trial 4 (25%).")
    fixed = present.best({**result, "trials": [{"number": 1, "state": "complete", "value": 0.9}]}, None, None,
                         {"normal": [["sep_conv_3x3", 0]]})
    assert fixed["genotype"] == '{"normal":[["sep_conv_3x3",0]]}' and fixed["ensemble"] == ""  # a retrain study's
