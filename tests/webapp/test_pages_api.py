"""Pages and the JSON API: auth, visibility, validation messages, filters, the schema."""
from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from tests.webapp.support import form_data, login, token_for
from webapp.experiments import services
from webapp.experiments.models import ApiToken, Event, Experiment, Status
from webapp.experiments.services import runs

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, data=json.dumps(body) if not isinstance(body, str) else body, content_type="application/json", **headers)


# ---- login and visibility --------------------------------------------------------------
def test_pages_require_login(client: Client) -> None:
    for url in ("/", "/experiments/new", "/experiments/1/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_other_users_experiment_is_invisible(client: Client, alice: Any, bob: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "alice-run", tiny_config)
    login(client, bob)
    assert client.get(f"/experiments/{exp.pk}/").status_code == 404
    assert client.post(f"/experiments/{exp.pk}/cancel").status_code == 404
    assert client.post(f"/experiments/{exp.pk}/resume").status_code == 404
    assert "alice-run" not in client.get("/").content.decode()
    headers = token_for(bob)
    for url in (f"/api/experiments/{exp.pk}", f"/api/experiments/{exp.pk}/events?after=0"):
        response = client.get(url, **headers)
        assert response.status_code == 404 and response.json()["error"]
    for action in ("cancel", "resume"):
        assert client.post(f"/api/experiments/{exp.pk}/{action}", **headers).status_code == 404
    assert client.get("/api/experiments", **headers).json()["count"] == 0
    exp.refresh_from_db()
    assert exp.status == Status.QUEUED  # nothing changed


def test_staff_see_everyones_experiments(client: Client, alice: Any, make_user: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "alice-run", tiny_config)
    staff = make_user("root", staff=True)
    login(client, staff)
    assert client.get(f"/experiments/{exp.pk}/").status_code == 200
    assert "alice-run" in client.get("/").content.decode()


# ---- the form -----------------------------------------------------------------------------
def test_new_form_shows_engine_defaults(client: Client, alice: Any) -> None:
    html = login(client, alice).get("/experiments/new").content.decode()
    assert 'name="space"' in html and 'name="w_lr"' in html and 'value="0.025"' in html
    assert 'value="darts" selected' in html


def test_form_rejects_bad_config_with_messages_per_field(client: Client, alice: Any) -> None:
    login(client, alice)
    response = client.post("/experiments/new", form_data(epochs=0, batch_size="lots", w_lr=-1, train_portion=1.5, space="nope"))
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"epochs", "batch_size", "w_lr", "train_portion", "space"}
    assert "positive integer" in form.errors["epochs"][0]
    assert "strictly between 0 and 1" in form.errors["train_portion"][0]
    html = response.content.decode()
    assert "The experiment was not created" in html and 'id="error-epochs"' in html
    assert Experiment.objects.count() == 0


@override_settings(NASBOARD_MAX_EPOCHS=10)
def test_form_applies_server_limits(client: Client, alice: Any) -> None:
    response = login(client, alice).post("/experiments/new", form_data(epochs=11))
    assert response.status_code == 200
    assert "at most 10 epochs" in response.context["form"].errors["epochs"][0]
    assert Experiment.objects.count() == 0


@override_settings(NASBOARD_MAX_CONCURRENT_RUNS=1)
def test_form_refuses_beyond_concurrent_limit(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    services.create_experiment(alice, "running", tiny_config)
    response = login(client, alice).post("/experiments/new", form_data())
    assert response.status_code == 200
    assert "limit is 1" in response.content.decode()
    assert Experiment.objects.count() == 1


def test_form_creates_and_redirects(client: Client, alice: Any) -> None:
    response = login(client, alice).post("/experiments/new", form_data())
    exp = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/experiments/{exp.pk}/"
    assert exp.owner == alice and exp.name == "from the form" and exp.config["layers"] == 3
    assert exp.config["order"] == 1 and exp.status == Status.QUEUED
    page = client.get(response["Location"]).content.decode()
    assert "from the form" in page and 'id="page-config"' in page


# ---- the API ------------------------------------------------------------------------------
def test_api_requires_auth(client: Client) -> None:
    response = client.get("/api/experiments")
    assert response.status_code == 401 and "authentication required" in response.json()["error"]
    response = client.get("/api/experiments", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401 and "not valid" in response.json()["error"]
    response = client.get("/api/experiments", HTTP_AUTHORIZATION="Basic abc")
    assert response.status_code == 401 and "Bearer" in response.json()["error"]


def test_api_create_list_detail(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    headers = token_for(alice)
    response = post_json(client, "/api/experiments", {"name": "api run", "config": tiny_config}, **headers)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["config"]["epochs"] == 3 and body["owner"] == "alice"
    assert response["Location"] == f"/api/experiments/{body['id']}"
    listing = client.get("/api/experiments", **headers).json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]
    detail = client.get(f"/api/experiments/{body['id']}", **headers).json()
    assert detail["progress"]["epochs"] == 3 and detail["result"] is None


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"name": "x", "config": {"epochs": -1, "optimizer": "adam"}}, {"epochs", "optimizer"}),
        ({"name": "", "config": {}}, {"name"}),
        ({"name": "x", "config": "darts"}, {"config"}),
        ({"name": "x", "config": {}, "owner": "bob"}, {"owner"}),
        ([1, 2], {"body"}),
        ("{not json", {"body"}),
        ({"name": "x", "config": {"device": "cuda:7"}}, {"device"}),
        ({"name": "x", "config": {"data_dir": "/etc"}}, {"data_dir"}),
        ({"name": "x", "config": {"early_stop": "sometimes", "early_stop_window": 0}}, {"early_stop", "early_stop_window"}),
        ({"name": "x", "config": {"early_stop": "es", "curvature_every": 0}}, {"early_stop"}),
        ({"name": "x", "config": {"early_stop_threshold": "high", "curvature_every": 1.5}}, {"early_stop_threshold", "curvature_every"}),
    ],
)
def test_api_rejects_bad_input(client: Client, alice: Any, body: Any, fields: set[str]) -> None:
    response = post_json(client, "/api/experiments", body, **token_for(alice))
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "the experiment was not created" and set(payload["errors"]) == fields
    assert all(isinstance(m, str) and m for m in payload["errors"].values())
    assert Experiment.objects.count() == 0


def test_api_session_post_needs_csrf(alice: Any, tiny_config: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = post_json(client, "/api/experiments", {"name": "x", "config": tiny_config})
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    client.get("/experiments/new")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = post_json(client, "/api/experiments", {"name": "x", "config": tiny_config}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_api_cancel_resume(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    headers = token_for(alice)
    exp = services.create_experiment(alice, "x", tiny_config)
    response = client.post(f"/api/experiments/{exp.pk}/cancel", **headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    response = client.post(f"/api/experiments/{exp.pk}/cancel", **headers)
    assert response.status_code == 409 and "only a queued or running" in response.json()["error"]
    response = client.post(f"/api/experiments/{exp.pk}/resume", **headers)
    assert response.status_code == 202 and response.json()["status"] == "queued"
    response = client.post(f"/api/experiments/{exp.pk}/resume", **headers)
    assert response.status_code == 409
    assert client.get(f"/api/experiments/{exp.pk}/cancel", **headers).status_code == 405


def test_api_events_after(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "x", tiny_config)
    sink = runs.DatabaseSink(exp.pk)
    for seq in range(1, 8):
        sink(seq, {"type": "log", "v": 1, "time": float(seq), "level": "info", "message": f"m{seq}"})
    headers = token_for(alice)
    body = client.get(f"/api/experiments/{exp.pk}/events?after=3", **headers).json()
    assert [e["seq"] for e in body["events"]] == [4, 5, 6, 7] and body["last_seq"] == 7 and not body["more"]
    assert body["events"][0]["message"] == "m4" and body["status"] == "queued" and body["history_rev"] == 0
    body = client.get(f"/api/experiments/{exp.pk}/events?after=0&limit=2", **headers).json()
    assert [e["seq"] for e in body["events"]] == [1, 2] and body["more"]
    body = client.get(f"/api/experiments/{exp.pk}/events?after=7", **headers).json()
    assert body["events"] == [] and body["last_seq"] == 7
    for bad in ("x", "-1"):
        response = client.get(f"/api/experiments/{exp.pk}/events?after={bad}", **headers)
        assert response.status_code == 400 and "after must be" in response.json()["error"]


def test_create_token_command(client: Client, alice: Any) -> None:
    out = StringIO()
    call_command("create_token", "alice", stdout=out)
    key = out.getvalue().strip()
    assert key.startswith("nb_")
    assert client.get("/api/experiments", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    assert ApiToken.objects.get().key_hash != key  # only the hash is stored
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user named"):
        call_command("create_token", "nobody", stdout=StringIO())


def test_openapi_schema(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) >= {"/api/experiments", "/api/experiments/{id}", "/api/experiments/{id}/events",
                          "/api/experiments/{id}/cancel", "/api/experiments/{id}/resume"}  # and curation's, comparison's
    assert {"get", "post"} <= set(paths["/api/experiments"])
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(schema):  # every reference resolves
        assert ref.split("/")[-1] in schema["components"]["schemas"]


def test_unknown_pages_are_plain_404s(client: Client, alice: Any) -> None:
    login(client, alice)
    response = client.get("/experiments/999999/")
    assert response.status_code == 404 and "Traceback" not in response.content.decode()
    response = client.get("/api/nothing-here", **token_for(alice))
    assert response.status_code == 404 and response.json()["error"]


# ---- the list ------------------------------------------------------------------------------
def test_list_search_filter_sort_paginate(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        made = [services.create_experiment(alice, f"run {i:02d}", {**tiny_config, "space": "nb201" if i % 2 else "s3"})
                for i in range(25)]
    Experiment.objects.filter(pk=made[3].pk).update(best_val_acc=0.99, status=Status.FINISHED)
    Experiment.objects.filter(pk=made[4].pk).update(best_val_acc=0.5, status=Status.FAILED)
    login(client, alice)
    page = client.get("/")
    assert page.context["page"].paginator.count == 25 and len(page.context["page"].object_list) == 20
    assert len(client.get("/?page=2").context["page"].object_list) == 5
    assert [e.name for e in client.get("/?q=run 03").context["page"].object_list] == ["run 03"]
    assert {e.space for e in client.get("/?space=nb201").context["page"].object_list} == {"nb201"}
    assert [e.name for e in client.get("/?status=failed").context["page"].object_list] == ["run 04"]
    assert client.get("/?sort=-acc").context["page"].object_list[0].name == "run 03"
    assert client.get("/?sort=name").context["page"].object_list[0].name == "run 00"
    assert client.get("/?sort=bogus&status=bogus&page=x").status_code == 200  # bad values fall back
    api = client.get("/api/experiments?space=nb201&per_page=5").json()
    assert api["count"] == 12 and len(api["results"]) == 5 and api["pages"] == 3


def test_detail_page_of_finished_run_shows_result(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    from webapp.experiments.models import Result

    exp = services.create_experiment(alice, "done", tiny_config)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED, epochs_done=3)
    Result.objects.create(experiment=exp, genotype="|skip_connect~0|", best_val_acc=0.875, val_acc=0.8, params=1234, epochs_completed=3)
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert "87.50%" in html and "1234" in html and 'id="cancel-form" hidden' in html
    assert "FLOPs" not in html  # not reported by the engine: not shown
    assert Event.objects.count() == 0


def test_admin_lists_and_acts(client: Client, alice: Any, make_user: Any, tiny_config: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model

    exp = services.create_experiment(alice, "curate me", tiny_config)
    staff = make_user("admin", staff=True)
    get_user_model().objects.filter(pk=staff.pk).update(is_superuser=True)
    login(client, staff)
    listing = client.get("/admin/experiments/experiment/?status__exact=queued&q=curate")
    assert listing.status_code == 200 and "curate me" in listing.content.decode()
    response = client.post("/admin/experiments/experiment/", {"action": "cancel_runs", "_selected_action": [exp.pk]})
    assert response.status_code == 302
    exp.refresh_from_db()
    assert exp.status == Status.CANCELLED
    response = client.post("/admin/experiments/experiment/", {"action": "resume_runs", "_selected_action": [exp.pk]})
    exp.refresh_from_db()
    assert exp.status == Status.QUEUED
    assert client.get(f"/admin/experiments/experiment/{exp.pk}/change/").status_code == 200


# ---- RobustDARTS: settings, the curvature section, the stopped-early status ----------------
def test_new_form_offers_robust_darts_settings_with_engine_defaults(client: Client, alice: Any) -> None:
    from nascore.config import choices, defaults

    response = login(client, alice).get("/experiments/new")
    form = response.context["form"]
    for key in ("curvature_every", "early_stop", "early_stop_window", "early_stop_threshold", "ada_factor", "ada_max_increases"):
        assert form.fields[key].initial == defaults()[key], key
    assert [v for v, _ in form.fields["early_stop"].choices] == choices()["early_stop"]
    assert [v for v, _ in form.fields["optimizer"].choices] == choices()["optimizer"]  # every registered method
    html = response.content.decode()
    assert 'id="robust-settings"' in html and "DARTS-ES" in html and "DARTS-ADA" in html
    assert 'name="early_stop_threshold"' in html and 'value="0.75"' in html


def test_form_takes_robust_darts_settings(client: Client, alice: Any) -> None:
    response = login(client, alice).post("/experiments/new", form_data(curvature_every=2, early_stop="es", early_stop_window=3,
                                                                     early_stop_threshold=0.6))
    assert response.status_code == 302
    cfg = Experiment.objects.get().config
    assert (cfg["curvature_every"], cfg["early_stop"], cfg["early_stop_window"], cfg["early_stop_threshold"]) == (2, "es", 3, 0.6)


def test_form_rejects_bad_robust_darts_settings_with_engine_messages(client: Client, alice: Any) -> None:
    login(client, alice)
    response = client.post("/experiments/new", form_data(early_stop_window=0, early_stop_threshold=-1, ada_factor=0.5))
    errors = response.context["form"].errors
    assert set(errors) == {"early_stop_window", "early_stop_threshold", "ada_factor"}
    assert "early_stop_window must be a positive integer" in errors["early_stop_window"][0]
    assert "early_stop_threshold must be a positive number" in errors["early_stop_threshold"][0]
    html = response.content.decode()
    assert 'id="error-early_stop_window"' in html and 'id="robust-settings" open>' in html
    response = client.post("/experiments/new", form_data(early_stop="es", curvature_every=0))
    assert "watches the curvature" in response.context["form"].errors["early_stop"][0]
    response = client.post("/experiments/new", form_data(early_stop="ada", optimizer="enas"))
    assert "no continuous architecture parameters" in response.context["form"].errors["early_stop"][0]
    assert Experiment.objects.count() == 0


def test_api_takes_robust_darts_settings(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    config = {**tiny_config, "curvature_every": 1, "early_stop": "ada", "early_stop_window": 2, "early_stop_threshold": 0.9,
              "ada_factor": 2.0}
    response = post_json(client, "/api/experiments", {"name": "ada", "config": config}, **token_for(alice))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["config"]["early_stop"] == "ada" and body["config"]["ada_factor"] == 2.0 and body["stop_reason"] is None


def _event(exp: Experiment, seq: int, etype: str, **payload: Any) -> None:
    Event.objects.create(experiment=exp, seq=seq, type=etype, payload={"type": etype, "v": 1, "time": float(seq), **payload})


REASON = "DARTS-ES stopped the search after epoch 4 of 6 and returns the architecture of epoch 2, 2 curvature points before"


def test_detail_page_renders_the_curvature_section_from_stored_events(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "robust", {**tiny_config, "epochs": 6, "early_stop": "es", "early_stop_window": 2})
    seq = 0
    for epoch, eig in enumerate([0.1, 0.11, 0.2, 0.3], start=1):
        seq += 1
        _event(exp, seq, "arch", epoch=epoch, kind="gumbel", cells={"normal": {"edges": ["0→2"], "ops": ["skip_connect"], "weights": [[1.0]]}})
        seq += 1
        _event(exp, seq, "curvature", epoch=epoch, eigenvalue=eig, trace=eig * 10, round=0)
    _event(exp, seq + 1, "early_stop", trigger_epoch=4, returned_epoch=2, earlier=0.105, later=0.25, ratio=0.42, window=2,
           threshold=0.75, reason=REASON)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.STOPPED_EARLY, stop_reason=REASON, epochs_done=4)
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="curvature"' in html and 'id="curve-eigen"' in html and 'id="curve-collapse"' in html
    assert "4 curvature points" in html and "latest dominant eigenvalue 0.3000 after epoch 4 (trace 3.000)" in html
    assert "DARTS-ES, window k = 2, threshold 0.75" in html
    assert 'id="curvature-empty" hidden' in html
    assert '<span id="status" class="status status-stopped_early">Stopped early</span>' in html
    assert 'id="stopped-early" class="stop-box">' in html and REASON in html  # shown, not hidden
    assert "Architecture distribution: Gumbel-softmax means" in html


def test_detail_page_drops_rolled_back_points_and_lists_ada_changes(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "ada", {**tiny_config, "early_stop": "ada", "early_stop_window": 1})
    for seq, epoch in enumerate([1, 2], start=1):
        _event(exp, seq, "curvature", epoch=epoch, eigenvalue=0.1 * epoch, trace=None, round=0)
    _event(exp, 3, "regularization_change", trigger_epoch=2, restored_epoch=1, parameter="weight_decay", old=3e-4, new=9e-4,
           increase=1, max_increases=4, earlier=0.1, later=0.2, ratio=0.5, reason="DARTS-ADA went back from epoch 2 to epoch 1")
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert "1 curvature point ·" in html and "1 regularization change" in html
    assert "DARTS-ADA went back from epoch 2 to epoch 1" in html and 'id="stopped-early" class="stop-box" hidden' in html


def test_detail_page_says_when_curvature_is_off(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = services.create_experiment(alice, "flat", {**tiny_config, "curvature_every": 0})
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert "Curvature tracking is off for this run" in html and 'id="curve-eigen" class="plot" hidden' in html


def test_stopped_early_status_in_list_filter_api_and_admin(client: Client, alice: Any, make_user: Any,
                                                           tiny_config: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model

    from webapp.experiments.models import Result

    stopped = services.create_experiment(alice, "stopped one", tiny_config)
    services.create_experiment(alice, "other one", tiny_config)
    Experiment.objects.filter(pk=stopped.pk).update(status=Status.STOPPED_EARLY, stop_reason=REASON)
    Result.objects.create(experiment=stopped, genotype="|skip_connect~0|", epochs_completed=4,
                          raw={"returned_epoch": 2, "collapse": {"genotype": {"skip_connections": {"cell": 1}, "parameter_free": {"cell": 1}},
                                                                   "last_genotype": {"skip_connections": {"cell": 3}, "parameter_free": {"cell": 5}}}})
    login(client, alice)
    page = client.get("/?status=stopped_early")
    assert [e.name for e in page.context["page"].object_list] == ["stopped one"]
    html = page.content.decode()
    assert '<option value="stopped_early" selected>Stopped early</option>' in html and "status-stopped_early" in html
    api = client.get("/api/experiments?status=stopped_early").json()
    assert api["count"] == 1 and api["results"][0]["stop_reason"] == REASON
    detail = client.get(f"/api/experiments/{stopped.pk}").json()
    assert detail["status"] == "stopped_early" and detail["result"]["returned_epoch"] == 2
    events = client.get(f"/api/experiments/{stopped.pk}/events?after=0").json()
    assert events["status"] == "stopped_early" and events["stop_reason"] == REASON
    page = client.get(f"/experiments/{stopped.pk}/").content.decode()
    assert "epoch 2 (the search stopped after epoch 4)" in page
    assert "cell: 1 skip, 1 parameter-free (last epoch&#x27;s cell: cell: 3 skip, 5 parameter-free)" in page
    assert 'id="resume-form" hidden' in page and 'id="cancel-form" hidden' in page
    schema = client.get("/api/openapi.json").json()
    assert set(schema["components"]["schemas"]["Experiment"]["properties"]["status"]["enum"]) == set(Status.values)
    staff = make_user("root", staff=True)
    get_user_model().objects.filter(pk=staff.pk).update(is_superuser=True)
    login(client, staff)
    listing = client.get("/admin/experiments/experiment/?status__exact=stopped_early")
    assert listing.status_code == 200 and "stopped one" in listing.content.decode() and "other one" not in listing.content.decode()
    assert REASON in client.get(f"/admin/experiments/experiment/{stopped.pk}/change/").content.decode()
