"""The API keeps the promises of its generated OpenAPI document: every endpoint is called for its success and each
error it documents, every answer fits its documented schema, and every documented answer is one the code gives.
Also the bugs the move to django-ninja fixed, and the Swagger page."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from django.conf import settings
from django.test import Client, RequestFactory, override_settings

from nascore import events as engine
from tests.webapp.api_support import Contract, World, body_of, make_world
from tests.webapp.support import login, token_for
from webapp import errors as page_errors
from webapp.experiments import selectors, services
from webapp.experiments.api import endpoints
from webapp.experiments.services import experiments as experiment_actions
from webapp.experiments.models import Experiment, Status

pytestmark = pytest.mark.django_db

E = "/api/experiments"
ONE = "/api/experiments/{id}"


@pytest.fixture
def contract(client: Client) -> Contract:
    return Contract(client.get("/api/openapi.json").json())


@pytest.fixture
def world(alice: Any, bob: Any) -> World:
    return make_world(alice, bob)


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Make the task queue unreachable (the services' way of sending runs raises as kombu's errors do)."""

    def down() -> None:
        def refuse(experiment: Experiment) -> None:
            raise services.BrokerUnavailable("the task queue cannot be reached (test); nothing was changed")

        monkeypatch.setattr(experiment_actions, "_send", refuse)  # how create and resume queue a run
        monkeypatch.setattr(experiment_actions, "send_run", refuse)  # how a retrain does

    return down


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def patch_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json", **headers)


def session_without_csrf(user: Any) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def test_every_endpoint_answers_as_documented(client: Client, contract: Contract, world: World, alice: Any,
                                               tiny_config: dict[str, Any], broker_down: Callable[[], None],
                                               table: Any) -> None:
    a, w, check = world.alice, world, contract.check
    no_csrf = session_without_csrf(alice)
    tok = {"HTTP_AUTHORIZATION": "Bearer nb_not-a-token"}

    # the list and creating
    assert check("GET", E, client.get(E, **a)).json()["count"] == 6
    assert check("GET", E, client.get(E, {"starred": "AAA"}, **a)).status_code == 400
    assert check("GET", E, client.get(E)).status_code == 401
    assert check("GET", E, client.get(E, **tok)).status_code == 401
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        assert check("POST", E, post_json(client, E, {"name": "new", "config": tiny_config}, **a)).status_code == 201
    assert check("POST", E, post_json(client, E, {"name": "", "config": {}}, **a)).status_code == 400
    assert check("POST", E, post_json(client, E, {"name": "x", "config": {"epochs": -1}}, **a)).status_code == 400
    assert check("POST", E, post_json(client, E, {"name": "x"})).status_code == 401
    assert check("POST", E, post_json(no_csrf, E, {"name": "x"})).status_code == 403

    # one experiment: read and curate
    fin = f"{E}/{w.finished.pk}"
    detail = check("GET", ONE, client.get(fin, **a)).json()
    assert detail["result"]["flops"] == 67890 and detail["result"]["returned_epoch"] == 2
    assert check("GET", ONE, client.get(fin)).status_code == 401
    assert check("GET", ONE, client.get(fin, **w.bob)).status_code == 404
    assert check("PATCH", ONE, patch_json(client, fin, {"starred": True, "tags": ["best"]}, **a)).json()["starred"]
    assert check("PATCH", ONE, patch_json(client, fin, {"starred": "yes"}, **a)).status_code == 400
    assert check("PATCH", ONE, patch_json(client, fin, {"remove_tags": ["none"]}, **a)).status_code == 400
    assert check("PATCH", ONE, patch_json(client, fin, {"starred": True})).status_code == 401
    assert check("PATCH", ONE, patch_json(no_csrf, fin, {"starred": True})).status_code == 403
    assert check("PATCH", ONE, patch_json(client, fin, {"starred": True}, **w.bob)).status_code == 404

    # events, the history and their payloads
    path = f"{ONE}/events"
    events = check("GET", path, client.get(f"{fin}/events", **a)).json()["events"]
    assert {e["type"] for e in events} == {cls.type for cls in _engine_classes()}
    assert check("GET", path, client.get(f"{fin}/events", {"after": -1}, **a)).status_code == 400
    assert check("GET", path, client.get(f"{fin}/events")).status_code == 401
    assert check("GET", path, client.get(f"{fin}/events", **w.bob)).status_code == 404
    path = f"{ONE}/events.jsonl"
    assert len(body_of(check("GET", path, client.get(f"{fin}/events.jsonl", **a))).splitlines()) == len(events)
    assert check("GET", path, client.get(f"{fin}/events.jsonl")).status_code == 401
    assert check("GET", path, client.get(f"{fin}/events.jsonl", **w.bob)).status_code == 404

    # actions
    path = f"{ONE}/cancel"
    assert check("POST", path, client.post(f"{E}/{w.queued.pk}/cancel", **a)).status_code == 200
    assert check("POST", path, client.post(f"{E}/{w.running.pk}/cancel", **a)).status_code == 202
    assert check("POST", path, client.post(f"{E}/{w.queued.pk}/cancel", **a)).status_code == 409
    assert check("POST", path, client.post(f"{E}/{w.running.pk}/cancel")).status_code == 401
    assert check("POST", path, no_csrf.post(f"{E}/{w.running.pk}/cancel")).status_code == 403
    assert check("POST", path, client.post(f"{E}/{w.running.pk}/cancel", **w.bob)).status_code == 404
    path = f"{ONE}/resume"
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        assert check("POST", path, client.post(f"{E}/{w.cancelled.pk}/resume", **a)).status_code == 202
        assert check("POST", path, client.post(f"{E}/{w.queued.pk}/resume", **a)).status_code == 202  # cancelled above
    assert check("POST", path, client.post(f"{E}/{w.finished.pk}/resume", **a)).status_code == 409
    assert check("POST", path, client.post(f"{E}/{w.finished.pk}/resume")).status_code == 401
    assert check("POST", path, no_csrf.post(f"{E}/{w.finished.pk}/resume")).status_code == 403
    assert check("POST", path, client.post(f"{E}/{w.finished.pk}/resume", **w.bob)).status_code == 404
    path = f"{ONE}/retrain"
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        made = check("POST", path, post_json(client, f"{fin}/retrain", {"config": {"epochs": 2}}, **a))
    assert made.status_code == 201 and made["Location"] == f"{E}/{made.json()['id']}"
    assert check("POST", path, post_json(client, f"{fin}/retrain", {"config": {"epochs": 0}}, **a)).status_code == 400
    assert check("POST", path, client.post(f"{E}/{w.retrain.pk}/retrain", **a)).status_code == 409
    assert check("POST", path, client.post(f"{fin}/retrain")).status_code == 401
    assert check("POST", path, no_csrf.post(f"{fin}/retrain")).status_code == 403
    assert check("POST", path, client.post(f"{fin}/retrain", **w.bob)).status_code == 404

    # exports, tags, the benchmark
    path = "/api/experiments/export.{format}"
    assert check("GET", path, client.get(f"{E}/export.csv", **a)).status_code == 200
    assert check("GET", path, client.get(f"{E}/export.json", {"tag": "best"}, **a)).json()["count"] == 1
    assert check("GET", path, client.get(f"{E}/export.yaml", **a)).status_code == 400
    assert check("GET", path, client.get(f"{E}/export.csv")).status_code == 401
    assert check("GET", "/api/tags", client.get("/api/tags", **a)).json() == {"tags": ["best"]}
    assert check("GET", "/api/tags", client.get("/api/tags")).status_code == 401
    path = "/api/benchmark/{space}"
    found = check("GET", path, client.get("/api/benchmark/nb201", {"arch": ["|nor_conv_3x3~0|+|none~0|none~1|+|skip_"
                                                                            "connect~0|none~1|none~2|", "nope"]}, **a))
    assert found.json()["available"] and found.json()["errors"]
    assert not check("GET", path, client.get("/api/benchmark/nb201", {"dataset": "cifar100"}, **a)).json()["available"]
    assert check("GET", path, client.get("/api/benchmark/nb201", {"dataset": "mnist"}, **a)).status_code == 400
    assert check("GET", path, client.get("/api/benchmark/nb201")).status_code == 401
    assert check("GET", path, client.get("/api/benchmark/darts", **a)).status_code == 404

    # search spaces
    ladder = (Path(__file__).resolve().parents[1] / "nascore" / "spaces" / "ladder.yaml").read_text()
    assert check("POST", "/api/spaces", post_json(client, "/api/spaces", {"document": ladder}, **a)).status_code == 201
    assert check("POST", "/api/spaces", post_json(client, "/api/spaces", {"document": "name: 3"}, **a)).status_code == 400
    assert check("POST", "/api/spaces", post_json(client, "/api/spaces", {"document": ladder})).status_code == 401
    assert check("POST", "/api/spaces", post_json(no_csrf, "/api/spaces", {"document": ladder})).status_code == 403
    assert check("GET", "/api/spaces", client.get("/api/spaces", **a)).json()["saved"][0]["name"] == "ladder"
    assert check("GET", "/api/spaces", client.get("/api/spaces")).status_code == 401
    path = "/api/spaces/{space}"
    assert check("GET", path, client.get("/api/spaces/ladder@1", **a)).json()["version"] == 1
    assert check("GET", path, client.get("/api/spaces/nb201", **a)).json()["builtin"]
    assert check("GET", path, client.get("/api/spaces/ladder@2", **a)).status_code == 404
    assert check("GET", path, client.get("/api/spaces/ladder")).status_code == 401
    path = "/api/spaces/{space}/versions"
    url = "/api/spaces/ladder/versions"
    assert check("POST", path, post_json(client, url, {"document": ladder}, **a)).json()["version"] == 2
    assert check("POST", path, post_json(client, url, {"document": ladder.replace("ladder", "other")}, **a)).status_code == 400
    assert check("POST", path, post_json(client, url, {"document": ladder}, **w.bob)).status_code == 404
    assert check("POST", path, post_json(client, url, {"document": ladder})).status_code == 401
    assert check("POST", path, post_json(no_csrf, url, {"document": ladder})).status_code == 403
    path = "/api/space-check"
    assert check("POST", path, post_json(client, path, {"document": ladder, "layers": 2}, **a)).json()["valid"]
    assert check("POST", path, post_json(client, path, {"document": ladder, "layers": 0}, **a)).status_code == 400
    assert check("POST", path, post_json(client, path, {"document": ladder})).status_code == 401
    assert check("POST", path, post_json(no_csrf, path, {"document": ladder})).status_code == 403

    # HPO studies
    S, SONE = "/api/studies", "/api/studies/{id}"
    study = {"trials": 3, "min_epochs": 1, "max_epochs": 2}
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        made = check("POST", S, post_json(client, S, {**study, "name": "a study"}, **a)).json()
        other = check("POST", S, post_json(client, S, study, **a)).json()
    assert made["status"] == "queued" and other["name"] == "HPO tabular breast_cancer"
    bad = check("POST", S, post_json(client, S, {"sampler": "nope", "trials": 0, "colour": 1}, **a))
    assert bad.status_code == 400 and {"sampler", "trials", "colour"} <= set(bad.json()["errors"])
    assert check("POST", S, post_json(client, S, [1, 2], **a)).status_code == 400
    assert check("POST", S, post_json(client, S, study)).status_code == 401
    assert check("POST", S, post_json(no_csrf, S, study)).status_code == 403
    assert check("GET", S, client.get(S, **a)).json()["count"] == 2
    assert check("GET", S, client.get(S, {"status": "finished"}, **a)).json()["count"] == 0
    assert check("GET", S, client.get(S, {"status": "sleeping"}, **a)).status_code == 400
    assert check("GET", S, client.get(S)).status_code == 401
    _add_trials(made["id"])
    one = f"{S}/{made['id']}"
    detail = check("GET", SONE, client.get(one, **a)).json()
    assert detail["states"] == {"complete": 1, "pruned": 0, "failed": 1, "running": 0, "waiting": 0}
    assert detail["best_value"] == 0.8 and detail["best_params"] == {"lr": 0.01}
    assert check("GET", SONE, client.get(one)).status_code == 401
    assert check("GET", SONE, client.get(one, **w.bob)).status_code == 404
    assert check("GET", SONE, client.get(f"{S}/{w.finished.pk}", **a)).status_code == 404  # a search is no study
    path = f"{SONE}/trials"
    trials = check("GET", path, client.get(f"{one}/trials", **a)).json()["trials"]
    assert trials[0]["intermediate_values"] == {"1": 0.7, "2": 0.8} and trials[1]["error"] == "RuntimeError: boom"
    assert check("GET", path, client.get(f"{one}/trials")).status_code == 401
    assert check("GET", path, client.get(f"{one}/trials", **w.bob)).status_code == 404
    path = f"{SONE}/cancel"
    Experiment.objects.filter(pk=other["id"]).update(status=Status.RUNNING)
    assert check("POST", path, client.post(f"{one}/cancel", **a)).json()["status"] == "cancelled"  # queued: 200
    assert check("POST", path, client.post(f"{S}/{other['id']}/cancel", **a)).status_code == 202
    assert check("POST", path, client.post(f"{one}/cancel", **a)).status_code == 409
    assert check("POST", path, client.post(f"{one}/cancel")).status_code == 401
    assert check("POST", path, no_csrf.post(f"{one}/cancel")).status_code == 403
    assert check("POST", path, client.post(f"{one}/cancel", **w.bob)).status_code == 404
    path = f"{SONE}/resume"
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        assert check("POST", path, client.post(f"{one}/resume", **a)).status_code == 202
        assert check("POST", path, client.post(f"{one}/resume", **a)).status_code == 409  # queued again
    assert check("POST", path, client.post(f"{one}/resume")).status_code == 401
    assert check("POST", path, no_csrf.post(f"{one}/resume")).status_code == 403
    assert check("POST", path, client.post(f"{one}/resume", **w.bob)).status_code == 404
    Experiment.objects.filter(pk=made["id"]).update(status=Status.FAILED)

    # the task queue down: nothing is created or queued
    broker_down()
    with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=100):
        assert check("POST", E, post_json(client, E, {"name": "lost", "config": tiny_config}, **a)).status_code == 503
        assert check("POST", f"{ONE}/resume", client.post(f"{E}/{w.failed.pk}/resume", **a)).status_code == 503
        assert check("POST", f"{ONE}/retrain", post_json(client, f"{fin}/retrain", {}, **a)).status_code == 503
        studies_before = Experiment.objects.filter(kind="study").count()
        assert check("POST", S, post_json(client, S, study, **a)).status_code == 503
        assert Experiment.objects.filter(kind="study").count() == studies_before
        assert check("POST", f"{SONE}/resume", client.post(f"{one}/resume", **a)).status_code == 503

    _every_write_refuses_a_body_too_large(client, contract, a)

    missing = contract.documented() - contract.seen
    assert not missing, f"documented answers no call produced: {sorted(missing)}"


def _every_write_refuses_a_body_too_large(client: Client, contract: Contract, auth: dict[str, str]) -> None:
    """Each documented write, with a JSON body one byte over DATA_UPLOAD_MAX_MEMORY_SIZE: its documented 413,
    whether or not the endpoint reads a body, and nothing done."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    huge = b'{"name": "' + b"x" * (limit - 11) + b'"}'
    assert len(huge) == limit + 1
    before = Experiment.objects.count()
    writes = [(template, method) for template, operations in contract.document["paths"].items()
              for method in operations if method in ("post", "put", "patch", "delete")]
    assert len(writes) >= 10
    for template, method in writes:
        url = template.replace("{id}", "1").replace("{space}", "ladder").replace("{format}", "json")
        response = client.generic(method.upper(), url, huge, content_type="application/json", **auth)
        assert contract.check(method, template, response).status_code == 413, (method, url)
        assert str(limit) in response.json()["error"]
    assert Experiment.objects.count() == before


def _add_trials(pk: int) -> None:
    """A complete trial (two epochs reported) and a failed one in the study's storage, as a worker leaves them."""
    import optuna

    from webapp.experiments.services.optuna_storage import load_study

    study = load_study(Experiment.objects.get(pk=pk))
    lr = optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.01}, distributions={"lr": lr}, value=0.8,
                                              intermediate_values={1: 0.7, 2: 0.8},
                                              user_attrs={"epochs": 2, "test_acc": 0.75}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params={"lr": 0.5},
                                              distributions={"lr": lr}, user_attrs={"error": "RuntimeError: boom"}))


def _engine_classes() -> list[type[engine.Event]]:
    from webapp.experiments.api.events import event_classes

    return event_classes()


def test_the_document_types_every_engine_event(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    union = document["components"]["schemas"]["Event"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type" and len(union["oneOf"]) == len(mapping)
    assert {"run_started", "step", "epoch", "arch", "genotype", "curvature", "early_stop", "regularization_change",
            "selection", "checkpoint", "log", "finished", "failed", "query", "eval_epoch"} <= set(mapping)
    query = document["components"]["schemas"]["QueryEvent"]
    assert {"run", "seed", "query", "genotype", "valid_acc", "best_valid_acc", "seq", "type", "v", "time"} <= set(
        query["required"])
    assert {"type": "null"} in query["properties"]["valid_acc"]["anyOf"]  # a NaN is stored as null


def test_the_document_states_the_bounds_the_server_enforces(client: Client, alice: Any) -> None:
    document = client.get("/api/openapi.json").json()
    schemas, paths = document["components"]["schemas"], document["paths"]
    name = schemas["NewExperiment"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (1, 200) and schemas["NewExperiment"]["required"] == ["name"]
    assert schemas["NewExperiment"]["properties"]["config"]["type"] == "object"
    params = {p["name"]: p for p in paths[E]["get"]["parameters"]}
    assert params["starred"]["schema"]["type"] == "boolean" and params["baseline"]["schema"]["type"] == "boolean"
    assert params["per_page"]["schema"]["minimum"] == 1 and params["per_page"]["schema"]["maximum"] == 100
    assert params["page"]["schema"]["minimum"] == 1 and params["page"]["schema"]["type"] == "integer"
    assert set(params["sort"]["schema"]["enum"]) >= {"created", "-created", "acc", "-acc"}
    export = {p["name"]: p for p in paths["/api/experiments/export.{format}"]["get"]["parameters"]}
    assert export["format"]["schema"]["enum"] == ["csv", "json"]
    assert paths[ONE]["get"]["parameters"][0]["schema"]["type"] == "integer"
    headers = token_for(alice)
    for query, field in (("per_page=101", "per_page"), ("page=0", "page"), ("sort=bogus", "sort"), ("baseline=2", "baseline")):
        response = client.get(f"{E}?{query}", **headers)
        assert response.status_code == 400 and set(response.json()["errors"]) == {field}, query


# ---- the bugs the move fixed ------------------------------------------------------------------------------
def test_a_non_boolean_starred_is_refused_naming_it(client: Client, alice: Any) -> None:
    response = login(client, alice).get(f"{E}?starred=AAA")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"starred"} and "starred" in response.json()["error"]
    assert client.get(f"{E}?starred=true").status_code == 200


def test_an_empty_name_is_refused_and_the_schema_says_so(client: Client, alice: Any) -> None:
    response = post_json(login(client, alice), E, {"name": "", "config": {}})
    body = response.json()
    assert response.status_code == 400 and body["error"] == "the experiment was not created" and set(body["errors"]) == {"name"}
    assert client.get("/api/openapi.json").json()["components"]["schemas"]["NewExperiment"]["properties"]["name"][
        "minLength"] == 1
    assert not Experiment.objects.exists()


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_unmatched_api_addresses_answer_json_404_even_to_a_session_without_csrf(alice: Any, contract: Contract,
                                                                                method: str) -> None:
    anonymous, with_session = Client(enforce_csrf_checks=True), session_without_csrf(alice)
    with_session.cookies["csrftoken"] = "a" * 32  # a CSRF cookie, but no header: Django's check would refuse
    for browser, headers in ((with_session, {}), (anonymous, {}), (anonymous, token_for(alice))):
        for path in ("/api/experiments/null,null/cancel", "/api/", "/api/nothing/here", "/api/experiments/1/nope"):
            body = contract.check_error(getattr(browser, method)(path, **headers), 404)
            assert body["error"]


def test_a_method_an_address_does_not_take_is_a_json_405(client: Client, alice: Any, contract: Contract) -> None:
    login(client, alice)
    exp = services.create_experiment(alice, "x", {"space": "s3", "dataset": "digits", "device": "cpu"})
    for method, path, allowed in (("delete", E, "GET, POST"), ("put", f"{E}/{exp.pk}", "GET, PATCH"),
                                  ("get", f"{E}/{exp.pk}/cancel", "POST"), ("post", "/api/openapi.json", "GET"),
                                  ("post", "/api/docs", "GET")):
        response = getattr(session_without_csrf(alice), method)(path)
        assert "not allowed" in contract.check_error(response, 405)["error"] and response["Allow"] == allowed, path
    assert Experiment.objects.get(pk=exp.pk).status == Status.QUEUED


def test_the_docs_page_needs_a_login_and_serves_swagger_from_static(client: Client, alice: Any) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    html = login(client, alice).get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui.css"} <= set(assets)
    assert all(a.startswith("/static/") for a in assets) and "//" not in "".join(assets)  # no CDN
    assert json.loads(re.search(r'id="swagger-settings">(.*?)</script>', html, re.S)[1])["url"] == "/api/openapi.json"
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert 'href="/api/docs"' in client.get("/").content.decode()  # the navigation links it


# ---- every answer under /api/ is JSON, whatever goes wrong ----------------------------------------------------
def _csrf_session(user: Any) -> tuple[Client, dict[str, str]]:
    """A logged-in browser that enforces CSRF, and the header that passes the check."""
    browser = session_without_csrf(user)
    secret = "s" * 32
    browser.cookies["csrftoken"] = secret
    return browser, {"HTTP_X_CSRFTOKEN": secret}


def test_a_body_that_is_not_json_is_the_documented_400(client: Client, contract: Contract, alice: Any) -> None:
    token = token_for(alice)
    for body, media in (('{"name": "x", "config": {', "application/json"), ("name=x", "text/plain"),
                        ("name=x&config=1", "application/x-www-form-urlencoded"), ("\xff\xfe", "application/json")):
        response = contract.check("POST", E, client.post(E, body, content_type=media, **token))
        assert response.status_code == 400 and set(response.json()["errors"]) == {"body"}, media
        assert response.json()["error"] == "the experiment was not created"
    # a form posted with the session: Django's CSRF check reads it as a form first, and it still is a JSON 400
    browser, csrf = _csrf_session(alice)
    response = contract.check("POST", E, browser.post(E, {"name": "x"}, **csrf))
    assert response.status_code == 400 and "application/json" in response.json()["errors"]["body"]
    response = contract.check("POST", E, browser.post(E, "name=x", content_type="application/x-www-form-urlencoded",
                                                      **csrf))
    assert response.status_code == 400 and set(response.json()["errors"]) == {"body"}
    # a form of more fields than Django parses (TooManyFieldsSent, refused while the CSRF check reads it)
    fields = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = contract.check("POST", E, browser.post(E, fields, content_type="application/x-www-form-urlencoded",
                                                      **csrf))
    assert response.status_code == 400 and response.json() == {"error": "the request is malformed and was refused"}
    assert not Experiment.objects.exists()


def test_a_bearer_token_is_the_identity_whatever_cookies_come_with_it(contract: Contract, world: World,
                                                                        alice: Any) -> None:
    queued = f"{E}/{world.queued.pk}"
    # a stale session cookie and a CSRF cookie without its header: the token is enough, no CSRF asked
    stale = Client(enforce_csrf_checks=True)
    stale.cookies["sessionid"] = "not-a-session"
    stale.cookies["csrftoken"] = "c" * 32
    assert contract.check("GET", ONE, stale.get(queued, **world.alice)).json()["name"] == "queued"
    made = contract.check("PATCH", ONE, patch_json(stale, queued, {"starred": True}, **world.alice))
    assert made.status_code == 200 and made.json()["starred"]
    # alice logged in, without a CSRF header: her token still writes
    browser = session_without_csrf(alice)
    browser.cookies["csrftoken"] = "c" * 32
    assert contract.check("POST", f"{ONE}/cancel", browser.post(f"{queued}/cancel", **world.alice)).status_code == 200
    # bob's token beside alice's session acts as bob: her experiment is not his
    assert contract.check("GET", ONE, browser.get(queued, **world.bob)).status_code == 404
    assert contract.check("PATCH", ONE, patch_json(browser, queued, {"starred": False}, **world.bob)).status_code == 404
    # a wrong token beside a good session is refused, never taken as the session
    for bad in ("Bearer nb_revoked", "Token abc", "Bearer "):
        response = contract.check("GET", ONE, browser.get(queued, HTTP_AUTHORIZATION=bad))
        assert response.status_code == 401, bad
        response = contract.check("PATCH", ONE, patch_json(browser, queued, {"starred": False}, HTTP_AUTHORIZATION=bad))
        assert response.status_code == 401, bad
    assert Experiment.objects.get(pk=world.queued.pk).starred
    # the session alone, without the CSRF header, is refused a write in JSON; with it, it writes
    refused = contract.check("PATCH", ONE, patch_json(browser, queued, {"starred": False}))
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    browser, csrf = _csrf_session(alice)
    assert not contract.check("PATCH", ONE, patch_json(browser, queued, {"starred": False}, **csrf)).json()["starred"]


def test_a_refused_csrf_check_answers_json_under_the_api_and_django_s_page_elsewhere() -> None:
    api_answer = page_errors.csrf_failure(RequestFactory().post("/api/experiments"), reason="CSRF cookie not set.")
    assert api_answer.status_code == 403 and json.loads(api_answer.content)["error"].startswith("CSRF check failed")
    page = page_errors.csrf_failure(RequestFactory().post("/accounts/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
    assert settings.CSRF_FAILURE_VIEW == "webapp.errors.csrf_failure"


def test_a_huge_body_is_refused_before_auth_or_csrf(contract: Contract, alice: Any) -> None:
    huge = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    for browser in (session_without_csrf(alice), Client()):
        for media in ("application/json", "application/x-www-form-urlencoded"):
            response = contract.check("POST", E, browser.post(E, huge, content_type=media))
            assert response.status_code == 413, media
    assert not Experiment.objects.exists()


def test_an_unhandled_exception_is_a_logged_json_500_without_its_details(
        contract: Contract, alice: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret-detail")

    monkeypatch.setattr(selectors, "tag_names", boom)
    token = token_for(alice)
    for debug in (False, True):  # with DEBUG on, ninja would answer the traceback as text
        with override_settings(DEBUG=debug):
            response = Client(raise_request_exception=False).get("/api/tags", **token)
        body = contract.check_error(response, 500)
        assert body == {"error": "internal error; it was logged"} and b"secret-detail" not in response.content
    logged = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info and "/api/tags" in r.getMessage()]
    assert len(logged) == 2 and "secret-detail" in str(logged[0].exc_info[1])
    # outside ninja's endpoints (the document's view), Django's handler500 answers the same JSON
    monkeypatch.setattr(endpoints.api, "get_openapi_schema", boom)
    response = Client(raise_request_exception=False).get("/api/openapi.json")
    assert contract.check_error(response, 500) == {"error": "internal error; it was logged"}
    assert b"secret-detail" not in response.content


def test_a_host_not_allowed_is_a_json_400_under_the_api(client: Client, contract: Contract) -> None:
    for path in ("/api/tags", "/api/nothing", "/api/openapi.json"):
        body = contract.check_error(client.get(path, HTTP_HOST="evil.example"), 400)
        assert "Host" in body["error"] and "evil" not in body["error"]
        body = contract.check_error(client.post(path, "{}", content_type="application/json", HTTP_HOST="evil.example"),
                                    400)
    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")
