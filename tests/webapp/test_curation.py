"""Curation (star, baseline, archive, tags, notes), retrain requests, exports and the admin's bulk actions.

No worker here: experiments are stored as they would be after a run, so the checks are quick. The retrain
lineage with a real worker is in test_worker_e2e.py.
"""
from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.webapp.api_support import DARTS_V2
from tests.webapp.support import login, token_for
from webapp.experiments.models import Event, Experiment, Kind, Result, Status, Tag
from webapp.experiments.presenters import exports
from webapp.experiments.presenters.markdown import render_markdown

pytestmark = pytest.mark.django_db



def stored(owner: Any, name: str = "search", status: str = Status.FINISHED, kind: str = Kind.SEARCH,
           parent: Experiment | None = None, val: float | None = 0.9, test: float | None = None, **fields: Any) -> Experiment:
    """An experiment as a worker leaves it (a Result when it completed), without running anything."""
    now = timezone.now()
    exp = Experiment.objects.create(
        owner=owner, name=name, kind=kind, parent=parent,
        config={"space": "darts", "optimizer": "darts", "dataset": "digits", "epochs": 3, "batch_size": 32, "channels": 4,
                "layers": 5, "order": 1, "w_lr": 0.025, "alpha_lr": 0.0003, "seed": 0, "device": "cpu"},
        space="darts", optimizer="darts", dataset="digits", seed=fields.pop("seed", 0), device_requested="cpu", queue="cpu",
        status=status, epochs=3, epochs_done=3 if status == Status.FINISHED else 1, best_val_acc=val,
        started_at=now, ended_at=now if status not in (Status.QUEUED, Status.RUNNING) else None, **fields)
    if status in (Status.FINISHED, Status.STOPPED_EARLY):
        Result.objects.create(experiment=exp, genotype=DARTS_V2, val_acc=val, best_val_acc=val, train_acc=0.95,
                              params=12345, flops=67890, test_acc=test, epochs_completed=3)
    return exp


def patch(client: Client, pk: int, body: Any, **headers: str) -> Any:
    return client.patch(f"/api/experiments/{pk}", data=json.dumps(body), content_type="application/json", **headers)


def state(exp: Experiment) -> tuple[Any, ...]:
    exp = Experiment.objects.get(pk=exp.pk)
    return exp.starred, exp.is_baseline, exp.archived, exp.notes, sorted(t.name for t in exp.tags.all())


# ---- who may curate ------------------------------------------------------------------------------
PAGE_ACTIONS = [
    ({"action": "star"}, lambda e: e.starred),
    ({"action": "baseline"}, lambda e: e.is_baseline),
    ({"action": "archive"}, lambda e: e.archived),
    ({"action": "notes", "notes": "seed 3 is *odd*"}, lambda e: e.notes == "seed 3 is *odd*"),
    ({"action": "add_tag", "tag": "ablation"}, lambda e: [t.name for t in e.tags.all()] == ["ablation"]),
]


@pytest.mark.parametrize("data,done", PAGE_ACTIONS, ids=[a[0]["action"] for a in PAGE_ACTIONS])
def test_page_curation_only_by_owner_or_staff(client: Client, alice: Any, bob: Any, make_user: Any, data: dict[str, str],
                                              done: Any) -> None:
    exp = stored(alice)
    before = state(exp)
    login(client, bob)
    assert client.post(f"/experiments/{exp.pk}/curate", data).status_code == 404
    assert client.post(f"/experiments/{exp.pk}/curate", data, HTTP_ACCEPT="application/json").status_code == 404
    assert state(exp) == before  # another user changed nothing
    response = login(client, alice).post(f"/experiments/{exp.pk}/curate", data)
    assert response.status_code == 302 and response["Location"] == f"/experiments/{exp.pk}/"
    assert done(Experiment.objects.get(pk=exp.pk))
    other = stored(alice, "second")
    response = login(client, make_user("root", staff=True)).post(f"/experiments/{other.pk}/curate", data,
                                                                 HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["id"] == other.pk
    assert done(Experiment.objects.get(pk=other.pk))


def test_undo_actions_and_tag_removal(client: Client, alice: Any) -> None:
    exp = stored(alice, starred=True, is_baseline=True, archived=True)
    login(client, alice)
    for action in ("unstar", "unbaseline", "unarchive"):
        assert client.post(f"/experiments/{exp.pk}/curate", {"action": action}).status_code == 302
    client.post(f"/experiments/{exp.pk}/curate", {"action": "add_tag", "tag": "keep, drop"})
    assert state(exp) == (False, False, False, "", ["drop", "keep"])
    answer = client.post(f"/experiments/{exp.pk}/curate", {"action": "remove_tag", "tag": "drop"},
                         HTTP_ACCEPT="application/json").json()
    assert answer["tags"] == ["keep"] and not answer["starred"]
    assert list(Tag.objects.filter(owner=alice).values_list("name", flat=True)) == ["keep"]  # unused tags go


def test_anonymous_curation_is_refused(client: Client, alice: Any) -> None:
    exp = stored(alice)
    response = client.post(f"/experiments/{exp.pk}/curate", {"action": "star"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert patch(client, exp.pk, {"starred": True}).status_code == 401
    assert not Experiment.objects.get(pk=exp.pk).starred


def test_api_curation_by_owner_staff_and_not_others(client: Client, alice: Any, bob: Any, make_user: Any) -> None:
    exp = stored(alice)
    body = {"starred": True, "is_baseline": True, "archived": True, "notes": "**best** so far", "tags": ["c", "a", "b"]}
    response = patch(client, exp.pk, body, **token_for(bob))
    assert response.status_code == 404 and state(exp) == (False, False, False, "", [])
    data = patch(client, exp.pk, body, **token_for(alice)).json()
    assert (data["starred"], data["is_baseline"], data["archived"], data["tags"]) == (True, True, True, ["a", "b", "c"])
    assert data["notes_html"] == "<p><strong>best</strong> so far</p>"
    data = patch(client, exp.pk, {"add_tags": ["d"], "remove_tags": ["a"], "starred": False},
                 **token_for(make_user("root", staff=True))).json()
    assert data["tags"] == ["b", "c", "d"] and not data["starred"]
    assert set(Tag.objects.filter(owner=alice).values_list("name", flat=True)) == {"b", "c", "d"}  # the owner's tags


def test_api_session_patch_needs_csrf(alice: Any) -> None:
    exp = stored(alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert patch(client, exp.pk, {"starred": True}).status_code == 403
    assert not Experiment.objects.get(pk=exp.pk).starred


@pytest.mark.parametrize("body,field", [
    ({"starred": "yes"}, "starred"),
    ({"archived": 1}, "archived"),
    ({"notes": 5}, "notes"),
    ({"notes": "x" * 20001}, "notes"),
    ({"tags": "a,b"}, "tags"),
    ({"tags": ["ok", "<script>"]}, "tags"),
    ({"tags": ["a" * 51]}, "tags"),
    ({"add_tags": [""]}, "add_tags"),
    ({"tags": ["a"], "add_tags": ["b"]}, "tags"),
    ({"remove_tags": ["missing"]}, "remove_tags"),
    ({"owner": "bob"}, "owner"),
])
def test_api_bad_curation_changes_nothing(client: Client, alice: Any, body: dict[str, Any], field: str) -> None:
    exp = stored(alice)
    patch(client, exp.pk, {"tags": ["kept"]}, **token_for(alice))
    before = state(exp)
    response = patch(client, exp.pk, {"starred": True, **body}, **token_for(alice))  # a good change beside the bad one
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"] and response.json()["errors"][field]
    assert state(exp) == before  # all or nothing


def test_page_curation_bad_input_says_why(client: Client, alice: Any) -> None:
    exp = stored(alice)
    login(client, alice)
    response = client.post(f"/experiments/{exp.pk}/curate", {"action": "add_tag", "tag": "bad<tag>"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "may hold only letters" in response.json()["errors"]["add_tags"]
    response = client.post(f"/experiments/{exp.pk}/curate", {"action": "explode"}, follow=True)
    assert "unknown action" in response.content.decode()
    assert state(exp) == (False, False, False, "", [])
    # the redirect target never leaves the site
    response = client.post(f"/experiments/{exp.pk}/curate", {"action": "star", "next": "https://evil.example/"})
    assert response["Location"] == f"/experiments/{exp.pk}/"
    response = client.post(f"/experiments/{exp.pk}/curate", {"action": "unstar", "next": "/?tag=x"})
    assert response["Location"] == "/?tag=x"


# ---- notes as safe Markdown ----------------------------------------------------------------------
def test_markdown_subset() -> None:
    html = str(render_markdown("# Result\n\n- **bold** and *it*\n- `a<b`\n\n[paper](https://arxiv.org/abs/1806.09055)\n\n"
                               "```\n<b>raw</b>\n```\n> quoted"))
    assert "<h3>Result</h3>" in html
    assert "<ul><li><strong>bold</strong> and <em>it</em></li><li><code>a&lt;b</code></li></ul>" in html
    assert '<a href="https://arxiv.org/abs/1806.09055" rel="nofollow noopener noreferrer">paper</a>' in html
    assert "<pre><code>&lt;b&gt;raw&lt;/b&gt;</code></pre>" in html and "<blockquote><p>quoted</p></blockquote>" in html


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JavaScript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "[click](vbscript:msgbox)",
    "[x](//evil.example/)",
    '[x](https://ok.example/"onmouseover="alert(1))',
    "<a href=\"javascript:alert(1)\">x</a>",
    "**<script>**",
    "`</code><script>alert(1)</script>`",
    "<javascript:alert(1)>",
])
def test_markdown_never_lets_html_or_scripts_through(text: str) -> None:
    html = str(render_markdown(text))
    allowed = {"p", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "strong", "em", "del", "a", "br", "hr"}
    for tag, attrs in re.findall(r"<(\w+)([^>]*)>", html):
        assert tag in allowed, html  # only the renderer's own tags
        if tag == "a":
            href = re.fullmatch(r' href="([^"<>]*)" rel="nofollow noopener noreferrer"', attrs)
            assert href and re.match(r"(https?://|mailto:|/(?!/)|#)", href.group(1)), html
        else:
            assert attrs == "", html  # no attributes anywhere else
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', html)).lower()


def test_notes_render_escaped_on_page_and_api(client: Client, alice: Any) -> None:
    exp = stored(alice, notes="Look <script>alert('x')</script> [here](javascript:alert(2)) and [there](/experiments/)")
    page = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    rendered = page.split('id="notes-rendered">')[1].split("</div>")[0]
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert 'href="javascript' not in page and '<a href="/experiments/" rel="nofollow noopener noreferrer">there</a>' in rendered
    assert "<script>alert" not in page  # nor in the editor's textarea
    data = client.get(f"/api/experiments/{exp.pk}").json()
    assert data["notes"].startswith("Look <script>") and "<script>" not in data["notes_html"]


# ---- the list: filters -----------------------------------------------------------------------------
def test_list_filters_by_tag_star_baseline_kind_and_hides_archived(client: Client, alice: Any) -> None:
    tagged = stored(alice, "tagged-run")
    starred = stored(alice, "starred-run", starred=True, is_baseline=True)
    archived = stored(alice, "archived-run", archived=True)
    retrain = stored(alice, "retrain-run", kind=Kind.RETRAIN, parent=tagged, val=None, test=0.97)
    login(client, alice).post(f"/experiments/{tagged.pk}/curate", {"action": "add_tag", "tag": "Paper Fig 3"})

    def names(query: str) -> set[str]:
        return {e["name"] for e in client.get(f"/api/experiments?{query}").json()["results"]}

    assert names("") == {"tagged-run", "starred-run", "retrain-run"}  # archived hidden by default
    assert names("archived=include") == {"tagged-run", "starred-run", "retrain-run", "archived-run"}
    assert names("archived=only") == {"archived-run"}
    assert names("tag=paper+fig+3") == {"tagged-run"}  # tag names match case-insensitively
    assert names("starred=1") == names("baseline=1") == {"starred-run"}
    assert names("kind=retrain") == {"retrain-run"}
    page = client.get("/?archived=only").content.decode()
    assert "archived-run" in page and "tagged-run" not in page and 'value="only" selected' in page
    page = client.get("/").content.decode()
    assert "archived-run" not in page and "Paper Fig 3" in page and f"retrain of #{tagged.pk}" in page
    assert "test 97.0%" in page  # a retrain shows its test accuracy
    assert client.get("/api/tags").json() == {"tags": ["Paper Fig 3"]}
    assert starred.pk and archived.pk and retrain.pk


# ---- exports ---------------------------------------------------------------------------------------
def read_csv(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_list_exports_are_complete_and_parse(client: Client, alice: Any, bob: Any) -> None:
    runs = [stored(alice, f"run-{i}", val=0.5 + i / 100) for i in range(23)]  # more than one page of the list (20)
    stored(alice, "hidden", archived=True)
    stored(bob, "bobs")
    stored(alice, "=HYPERLINK(\"http://x\")")  # a name that a spreadsheet would run as a formula
    retrain = stored(alice, "retrained", kind=Kind.RETRAIN, parent=runs[0], val=None, test=0.975, seed=1)
    stored(alice, "retrained again", kind=Kind.RETRAIN, parent=runs[0], val=None, test=0.985, seed=2)
    login(client, alice).post(f"/experiments/{runs[0].pk}/curate", {"action": "add_tag", "tag": "best"})
    client.post(f"/experiments/{runs[0].pk}/curate", {"action": "notes", "notes": "line one\nline, two \"quoted\""})

    response = client.get("/experiments/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 23 + 3 and list(rows[0]) == list(exports.COLUMNS)
    assert {r["name"] for r in rows} >= {f"run-{i}" for i in range(23)} and "hidden" not in {r["name"] for r in rows}
    assert "bobs" not in {r["name"] for r in rows}
    first = next(r for r in rows if r["id"] == str(runs[0].pk))
    assert first["tags"] == "best" and first["notes"] == "line one\nline, two \"quoted\""
    assert first["retrain_ids"] == f"{retrain.pk};{retrain.pk + 1}" and float(first["retrain_test_acc"]) == 0.985
    assert float(first["retrain_test_acc_mean"]) == pytest.approx(0.98) and float(first["retrain_test_acc_best"]) == 0.985
    assert float(first["best_val_acc"]) == 0.5 and first["params"] == "12345" and first["status"] == "finished"
    assert first["kind"] == "search" and first["starred"] == "false" and json.loads(first["genotype"]) == DARTS_V2
    assert first["batch_size"] == "32" and first["w_lr"] == "0.025" and first["order"] == "1"
    own = next(r for r in rows if r["id"] == str(retrain.pk))
    assert own["kind"] == "retrain" and own["parent_id"] == str(runs[0].pk) and float(own["test_acc"]) == 0.975
    assert next(r for r in rows if "HYPERLINK" in r["name"])["name"].startswith("'=")

    data = json.loads(client.get("/experiments/export.json?tag=best").content)
    assert data["count"] == 1 and data["filters"] == {"tag": "best", "sort": "-created"}
    row = data["experiments"][0]
    assert set(row) == set(exports.COLUMNS) and row["tags"] == ["best"] and row["retrain_ids"] == [retrain.pk, retrain.pk + 1]
    assert row["genotype"] == DARTS_V2 and row["retrain_test_acc_best"] == 0.985
    everything = json.loads(client.get("/experiments/export.json?archived=include&sort=name").content)
    assert everything["count"] == 27 and [r["name"] for r in everything["experiments"]] == sorted(
        r["name"] for r in everything["experiments"])
    assert client.get("/experiments/export.xml").status_code == 404


def test_api_exports_with_a_token(client: Client, alice: Any, bob: Any, make_user: Any) -> None:
    stored(alice, "a1")
    stored(bob, "b1")
    assert {r["name"] for r in read_csv(client.get("/api/experiments/export.csv", **token_for(alice)))} == {"a1"}
    staff = json.loads(client.get("/api/experiments/export.json", **token_for(make_user("root", staff=True))).content)
    assert {r["name"] for r in staff["experiments"]} == {"a1", "b1"}
    response = client.get("/api/experiments/export.yaml", **token_for(alice))
    assert response.status_code == 400 and "csv or json" in response.json()["error"]
    assert client.get("/api/experiments/export.csv").status_code == 401


def test_event_history_jsonl_is_streamed_complete_and_private(client: Client, alice: Any, bob: Any) -> None:
    exp = stored(alice)
    Event.objects.bulk_create([Event(experiment=exp, seq=i, type="step" if i % 2 else "epoch",
                                     payload={"epoch": i, "train_loss": 1.0 / i, "nested": {"a": [i]}})
                               for i in range(1, 2502)])
    response = login(client, alice).get(f"/experiments/{exp.pk}/events.jsonl")
    assert response.status_code == 200 and response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, 2502))
    assert events[9] == {"seq": 10, "type": "epoch", "epoch": 10, "train_loss": 0.1, "nested": {"a": [10]}}
    api = b"".join(client.get(f"/api/experiments/{exp.pk}/events.jsonl", **token_for(alice)).streaming_content)
    assert api.decode().splitlines() == lines
    assert login(client, bob).get(f"/experiments/{exp.pk}/events.jsonl").status_code == 404
    assert client.get(f"/api/experiments/{exp.pk}/events.jsonl", **token_for(bob)).status_code == 404


def test_experiment_rows_reusable_for_any_set(alice: Any) -> None:
    a, b = stored(alice, "a"), stored(alice, "b", status=Status.RUNNING, val=None)
    rows = exports.experiment_rows(Experiment.objects.filter(pk__in=[a.pk, b.pk]).order_by("name"))
    assert [r["name"] for r in rows] == ["a", "b"] and rows[1]["params"] is None and rows[1]["ended_at"] is None
    text = exports.rows_csv(rows)
    assert list(csv.DictReader(io.StringIO(text)))[0]["name"] == "a"
    assert exports.rows_json(rows)["count"] == 2


# ---- retrain requests (queued only; the run itself is in test_worker_e2e) ------------------------
def test_retrain_form_defaults_and_refusals(client: Client, alice: Any, bob: Any) -> None:
    search = stored(alice, seed=7)
    login(client, alice)
    page = client.get(f"/experiments/{search.pk}/").content.decode()
    assert 'id="retrain-form"' in page and 'name="epochs" value="20"' in page and 'name="seed" value="7"' in page
    running = stored(alice, "running", status=Status.RUNNING, val=None)
    assert 'id="retrain-form"' not in client.get(f"/experiments/{running.pk}/").content.decode()
    response = client.post(f"/experiments/{running.pk}/retrain", {"epochs": 2, "batch_size": 32, "seed": 0, "device": "cpu"},
                           follow=True)
    assert "only a finished (or stopped early) search" in response.content.decode()
    response = client.post(f"/experiments/{search.pk}/retrain", {"epochs": 0, "batch_size": 100000, "seed": 0, "device": "tpu"})
    html = response.content.decode()
    assert response.status_code == 200 and "The retrain was not queued" in html and "tpu" in html
    assert Experiment.objects.filter(kind=Kind.RETRAIN).count() == 0
    assert login(client, bob).post(f"/experiments/{search.pk}/retrain", {"epochs": 2, "batch_size": 32, "seed": 0,
                                                                         "device": "cpu"}).status_code == 404
    assert Experiment.objects.filter(kind=Kind.RETRAIN).count() == 0


@pytest.mark.parametrize("config,field", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 100000}, "epochs"),
    ({"batch_size": 100000}, "batch_size"),
    ({"layers": 1}, "layers"),
    ({"data_dir": "/etc"}, "data_dir"),
    ({"space": "nb201"}, "space"),
    ({"optimizer": "darts"}, "optimizer"),
    ({"device": "tpu"}, "device"),
    ({"lr": -1}, "lr"),
])
def test_api_retrain_rejects_bad_settings(client: Client, alice: Any, config: dict[str, Any], field: str) -> None:
    search = stored(alice)
    response = client.post(f"/api/experiments/{search.pk}/retrain", data=json.dumps({"config": config}),
                           content_type="application/json", **token_for(alice))
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert not Experiment.objects.filter(kind=Kind.RETRAIN).exists()


def test_api_retrain_queues_a_linked_experiment(client: Client, alice: Any, bob: Any, make_user: Any) -> None:
    search = stored(alice, seed=4)
    assert client.post(f"/api/experiments/{search.pk}/retrain", **token_for(bob)).status_code == 404
    response = client.post(f"/api/experiments/{search.pk}/retrain", data=json.dumps({"config": {"epochs": 2, "channels": 4}}),
                           content_type="application/json", **token_for(make_user("root", staff=True)))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "retrain" and data["parent"] == search.pk and data["owner"] == "alice"
    retrain = Experiment.objects.get(pk=data["id"])
    assert retrain.status == Status.QUEUED and retrain.seed == 4 and retrain.epochs == 2 and retrain.queue.endswith("cpu")
    assert retrain.config["genotype"] == DARTS_V2 and retrain.config["channels"] == 4 and "data_dir" not in retrain.config
    assert retrain.name == f"retrain of #{search.pk} search" and retrain.optimizer == search.optimizer
    assert client.get(f"/api/experiments/{search.pk}", **token_for(alice)).json()["retrains"] == [
        {"id": retrain.pk, "name": retrain.name, "status": "queued", "test_acc": None}]
    response = client.post(f"/api/experiments/{retrain.pk}/retrain", **token_for(alice))
    assert response.status_code == 409 and "itself a retrain" in response.json()["error"], response.content


# ---- admin -------------------------------------------------------------------------------------------
def test_admin_bulk_curation_actions(client: Client, alice: Any, bob: Any, make_user: Any) -> None:
    a, b, c = stored(alice, "a"), stored(bob, "b"), stored(alice, "c")
    url = "/admin/experiments/experiment/"
    login(client, alice)
    assert client.get(url).status_code == 302  # not staff: the admin sends to its login
    root = make_user("root", staff=True)
    type(root).objects.filter(pk=root.pk).update(is_superuser=True)
    login(client, root)

    def act(action: str, *exps: Experiment, **extra: str) -> Any:
        return client.post(url, {"action": action, "_selected_action": [e.pk for e in exps], **extra}, follow=True)

    for action, field, value in (("star", "starred", True), ("archive", "archived", True),
                                 ("mark_baseline", "is_baseline", True), ("unstar", "starred", False),
                                 ("unarchive", "archived", False), ("unmark_baseline", "is_baseline", False)):
        assert act(action, a, b).status_code == 200
        assert [getattr(Experiment.objects.get(pk=e.pk), field) for e in (a, b, c)] == [value, value, False], action
    page = act("add_tag", a, b).content.decode()
    assert "Add a tag to 2 experiments" in page and not Tag.objects.exists()  # asks first
    page = act("add_tag", a, b, tag="bad<tag>", apply="1").content.decode()
    assert "may hold only letters" in page and not Tag.objects.exists()
    page = act("add_tag", a, b, tag="reviewed", apply="1").content.decode()
    assert "Tagged 2 experiment(s)" in page
    assert sorted(Tag.objects.values_list("owner__username", "name")) == [("alice", "reviewed"), ("bob", "reviewed")]
    assert [list(e.tags.values_list("name", flat=True)) for e in (a, b, c)] == [["reviewed"], ["reviewed"], []]
    assert "reviewed" in client.get(url + "?tag=reviewed").content.decode()
    change = client.get(f"{url}{a.pk}/change/").content.decode()
    assert 'name="notes"' in change and 'name="starred"' in change


def test_openapi_describes_curation_retrain_and_exports(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    assert {"get", "patch"} <= set(paths["/api/experiments/{id}"])
    assert "post" in paths["/api/experiments/{id}/retrain"] and "get" in paths["/api/experiments/{id}/events.jsonl"]
    assert "get" in paths["/api/experiments/export.{format}"] and "get" in paths["/api/tags"]
    filters = {p["name"] for p in paths["/api/experiments/export.{format}"]["get"]["parameters"]}
    assert {"tag", "starred", "baseline", "archived", "kind", "q", "status"} <= filters
    components = schema["components"]["schemas"]
    assert set(components["Curation"]["properties"]) == {"starred", "is_baseline", "archived", "notes", "tags", "add_tags",
                                                         "remove_tags"}
    assert {"kind", "parent", "starred", "is_baseline", "archived", "notes", "notes_html", "tags", "retrains"} <= set(
        components["Experiment"]["properties"])
    assert "test_acc" in components["Result"]["properties"]


def test_retrain_counts_towards_the_owners_run_limit(client: Client, alice: Any, settings: Any) -> None:
    settings.NASBOARD_MAX_CONCURRENT_RUNS = 1
    search = stored(alice)
    stored(alice, "busy", status=Status.RUNNING, val=None)
    response = client.post(f"/api/experiments/{search.pk}/retrain", data="{}", content_type="application/json",
                           **token_for(alice))
    assert response.status_code == 400 and "limit is 1" in response.json()["errors"]["limit"]
    assert not Experiment.objects.filter(kind=Kind.RETRAIN).exists()
