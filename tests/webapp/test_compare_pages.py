"""Comparison pages, permalinks, exports and the leaderboard, through Django's test client on stored runs."""
from __future__ import annotations

import csv
import io
import json
import re
import statistics
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.webapp.compare_data import darts_genotype, make_retrain, make_run
from webapp.experiments.presenters import leaderboard as lb
from webapp.experiments.selectors.compare import MAX_COMPARE

pytestmark = pytest.mark.django_db

SHARED_REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"


def page_config(response: Any) -> dict[str, Any]:
    match = re.search(r'<script id="compare-config" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, "the page has no compare-config"
    return json.loads(match.group(1))


def cell(response: Any, row: int, key: str) -> tuple[str, bool]:
    """The text of column ``key`` in table row ``row`` (0-based), and whether it is marked best."""
    body = response.content.decode().split('<tbody>', 1)[1].split('</tbody>', 1)[0]
    rows = re.findall(r"<tr data-group=.*?</tr>", body, re.S)
    match = re.search(rf'<td class="num( best)?" data-key="{key}"[^>]*>(.*?)</td>', rows[row], re.S)
    assert match, f"no {key} cell in row {row}"
    return unescape(re.sub(r"<[^>]+>", "", match.group(2))).strip(), bool(match.group(1))


@pytest.fixture
def runs(alice: Any) -> dict[str, Any]:
    """Two seeds of one setting, one other setting (a retrain of it too), each with curves and a cell."""
    a = make_run(alice, "seed zero", seed=0, val_accs=(0.5, 0.7, 0.90), eigenvalues=(0.3, 0.2, 0.25))
    b = make_run(alice, "seed one", seed=1, val_accs=(0.6, 0.8, 0.94), eigenvalues=(0.4, 0.3, 0.35))
    c = make_run(alice, "higher lr", seed=0, val_accs=(0.6, 0.85, 0.93), params=900, genotype=darts_genotype("dil_conv_3x3"),
                 w_lr=0.1)
    make_retrain(c, test_acc=0.961, seed=0)
    make_retrain(c, test_acc=0.955, seed=1)
    return {"a": a, "b": b, "c": c}


def test_comparison_groups_seeds_and_shows_mean_std_and_the_best_in_bold(client: Client, alice: Any, runs: dict[str, Any]) -> None:
    client.force_login(alice)
    a, b, c = runs["a"], runs["b"], runs["c"]
    response = client.get(f"/compare/?ids={a.pk},{b.pk},{c.pk}")
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "darts · darts · digits (2 seeds: 0, 1)" in html
    assert "sample standard deviation (n − 1)" in html
    # best val acc: the seed group 0.92 ± sample std of (0.90, 0.94); the other setting 0.93 is best
    std = statistics.stdev([0.90, 0.94]) * 100
    assert cell(response, 0, "best_val_acc") == (f"92.00 ± {std:.2f}%", False)
    assert cell(response, 1, "best_val_acc") == ("93.00%", True)
    # retrained test accuracy: mean of the two retrains of c; the group has none, so nothing is bold
    assert cell(response, 1, "test_acc") == ("95.80%", False)
    assert cell(response, 0, "test_acc") == ("–", False)
    assert cell(response, 1, "params") == ("900", True)
    assert cell(response, 1, "retrain_params") == ("3M", False)
    # search time: 3 epochs of 10 s (+ 3 curvature seconds for the group); device hours add c's two 60 s retrains
    assert cell(response, 0, "search_seconds") == ("33.0s ± 0.0s", False)  # two seeds, equal times
    assert cell(response, 1, "search_seconds") == ("30.0s", True)
    assert cell(response, 1, "device_hours")[0] == f"{(30 + 60 + 60) / 3600:.3g}"

    cfg = page_config(response)
    assert [g["ids"] for g in cfg["groups"]] == [[a.pk, b.pk], [c.pk]]
    acc = cfg["curves"]["val_acc"]["groups"][0]
    assert acc["epoch"] == [1, 2, 3] and acc["wall"] == [10.0, 21.0, 32.0]  # epoch and curvature seconds so far
    assert acc["mean"] == [pytest.approx(0.55), pytest.approx(0.75), pytest.approx(0.92)]
    assert acc["std"][2] == pytest.approx(statistics.stdev([0.90, 0.94]))
    assert cfg["curves"]["eigenvalue"]["groups"][1] is None  # c tracked no curvature
    assert cfg["curves"]["val_loss"]["runs"][2]["mean"] == [pytest.approx(0.4), pytest.approx(0.15), pytest.approx(0.07)]
    # the cells: c's third normal edge differs from the seeds' (and theirs from c's); reduce cells agree
    differing = {cell["id"]: cell["differing"] for cell in cfg["cells"]}
    assert differing[c.pk] == {"normal": [["0", "3", "dil_conv_3x3"]], "reduce": []}
    assert differing[a.pk]["normal"] == [["0", "3", "skip_connect"]]
    assert "normal: 0→3: dil_conv_3x3" in html
    heat = {item["id"]: item["cells"] for item in cfg["alphas"]}
    assert set(heat[a.pk]) == {"normal", "reduce"} and len(heat[a.pk]["normal"]["weights"]) == 5


def test_checkbox_ids_are_sent_on_to_the_short_permalink_which_reproduces_the_comparison(client: Client, alice: Any,
                                                                                       runs: dict[str, Any]) -> None:
    client.force_login(alice)
    a, b, c = runs["a"], runs["b"], runs["c"]
    response = client.get(f"/compare/?ids={c.pk}&ids={a.pk}&ids={b.pk}")
    assert response.status_code == 302 and response["Location"] == f"/compare/?ids={c.pk},{a.pk},{b.pk}"
    first = client.get(response["Location"])
    permalink = re.search(r'id="permalink" type="text" readonly value="([^"]+)"', first.content.decode()).group(1)
    assert permalink == f"http://testserver/compare/?ids={c.pk},{a.pk},{b.pk}"
    again = client.get(unescape(permalink).replace("http://testserver", ""))
    assert page_config(again) == page_config(first)
    assert [r["id"] for r in page_config(first)["runs"]] == [c.pk, a.pk, b.pk]  # groups keep the order given


def test_filter_comparison_and_its_permalink(client: Client, alice: Any, runs: dict[str, Any]) -> None:
    client.force_login(alice)
    make_run(alice, "still running", status="running", val_accs=(0.4,))
    response = client.get("/compare/filter/?status=finished&kind=search&page=3")
    assert response.status_code == 200
    cfg = page_config(response)
    assert sorted(r["id"] for r in cfg["runs"]) == sorted([runs["a"].pk, runs["b"].pk, runs["c"].pk])
    html = unescape(response.content.decode())
    assert "status = finished, kind = search" in html
    permalink = re.search(r'id="permalink" type="text" readonly value="([^"]+)"', html).group(1)
    assert permalink == "http://testserver/compare/filter/?status=finished&kind=search"  # the page number is dropped
    assert page_config(client.get(permalink.replace("http://testserver", ""))) == cfg
    pin = re.search(r'<a href="([^"]+)" id="pin-link"', html).group(1)
    assert page_config(client.get(pin))["runs"] == cfg["runs"]


@pytest.mark.parametrize("query, status, message", [
    ("/compare/", 400, "Nothing to compare"),
    ("/compare/?ids=1,abc", 400, "'abc' is not an experiment id"),
    ("/compare/?ids=7", 400, "at least two experiments"),
    ("/compare/?ids=1,2&sort=name", 400, "Unknown parameter 'sort'"),
    ("/compare/?ids=" + ",".join(str(i) for i in range(1, MAX_COMPARE + 2)), 400, f"At most {MAX_COMPARE} experiments"),
    ("/compare/filter/?status=exploded", 400, "'exploded' is not a valid status"),
    ("/compare/filter/?colour=red", 400, "Unknown filter parameter 'colour'"),
    ("/compare/filter/?space=nb201", 404, "No experiment of yours matches this filter (space = nb201)"),
    ("/compare/export.xml?ids=1,2", 400, "Unknown export format 'xml'"),
])
def test_bad_comparisons_say_what_is_wrong(client: Client, alice: Any, runs: dict[str, Any], query: str, status: int,
                                           message: str) -> None:
    client.force_login(alice)
    response = client.get(query)
    assert response.status_code == status
    assert message in unescape(response.content.decode())


def test_only_the_owner_or_staff_may_compare(client: Client, alice: Any, bob: Any, make_user: Any, runs: dict[str, Any]) -> None:
    a, b = runs["a"], runs["b"]
    mine = make_run(bob, "bob's", seed=3)
    client.force_login(bob)
    for url in (f"/compare/?ids={a.pk},{mine.pk}", f"/compare/export.csv?ids={a.pk},{mine.pk}"):
        response = client.get(url)
        assert response.status_code == 404
        text = unescape(response.content.decode())
        assert f"Experiment #{a.pk} does not exist or is not yours to see." in text
        assert "seed zero" not in text
    unknown = client.get(f"/compare/?ids={mine.pk},999999,999998")
    assert "Experiments #999999, #999998 do not exist or are not yours to see." in unescape(unknown.content.decode())
    # bob's filter comparison holds only bob's runs
    assert [r["id"] for r in page_config(client.get("/compare/filter/?space=darts"))["runs"]] == [mine.pk]
    client.logout()
    assert client.get(f"/compare/?ids={a.pk},{b.pk}").status_code == 302  # to the login page
    client.force_login(make_user("staff", staff=True))
    assert client.get(f"/compare/?ids={a.pk},{b.pk},{mine.pk}").status_code == 200


def test_exports_hold_every_run_with_its_group_figures(client: Client, alice: Any, runs: dict[str, Any]) -> None:
    client.force_login(alice)
    a, b, c = runs["a"], runs["b"], runs["c"]
    query = f"ids={a.pk},{b.pk},{c.pk}"
    response = client.get(f"/compare/export.csv?{query}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="comparison-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["id"]) for r in rows] == [a.pk, b.pk, c.pk]
    assert [r["group"] for r in rows] == ["1", "1", "2"]
    assert float(rows[0]["group_best_val_acc_mean"]) == pytest.approx(0.92)
    assert float(rows[0]["group_best_val_acc_std"]) == pytest.approx(statistics.stdev([0.90, 0.94]))
    assert rows[2]["group_best_val_acc_std"] == ""  # a group of one has no std
    assert float(rows[2]["retrain_test_acc_mean"]) == pytest.approx(0.958)  # the export module's own column
    assert float(rows[2]["search_seconds"]) == pytest.approx(30.0)

    doc = json.loads(client.get(f"/compare/export.json?{query}").content)
    assert doc["count"] == 3 and [e["id"] for e in doc["experiments"]] == [a.pk, b.pk, c.pk]
    assert doc["comparison"]["permalink"] == f"http://testserver/compare/?{query}"
    groups = doc["comparison"]["groups"]
    assert [g["ids"] for g in groups] == [[a.pk, b.pk], [c.pk]]
    assert groups[0]["figures"]["best_val_acc"]["n"] == 2
    # equal FLOPs everywhere: no best; the seed group's shorter device hours are best
    assert groups[1]["best"] == {"best_val_acc": True, "val_acc": True, "params": True, "search_seconds": True}
    assert groups[0]["best"] == {"device_hours": True}
    assert doc["experiments"][0]["genotype"] == darts_genotype()
    # the filter comparison exports the same way
    filtered = json.loads(client.get("/compare/filter/export.json?status=finished&kind=search").content)
    assert sorted(e["id"] for e in filtered["experiments"]) == sorted([a.pk, b.pk, c.pk])


def test_list_page_offers_checkboxes_and_a_filter_comparison(client: Client, alice: Any, runs: dict[str, Any]) -> None:
    client.force_login(alice)
    html = client.get("/?status=finished").content.decode()
    for exp in runs.values():
        assert f'name="ids" value="{exp.pk}" form="compare-form"' in html
    assert 'id="compare-filter" href="/compare/filter/?status=finished"' in html


def test_leaderboard_ranks_own_runs_with_published_results(client: Client, alice: Any, runs: dict[str, Any]) -> None:
    client.force_login(alice)
    response = client.get("/leaderboard/?space=darts&dataset=digits")
    assert response.status_code == 200
    body = unescape(response.content.decode())
    rows = re.findall(r'<tr class="(own|published)">(.*?)</tr>', body, re.S)
    names = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r[1])).strip() for r in rows]
    # c has retrained test accuracy, so it ranks first; then the seeds by validation accuracy
    assert names[0].startswith(f"1 #{runs['c'].pk} higher lr")
    assert names[1].startswith(f"2 #{runs['b'].pk} seed one") and names[2].startswith(f"3 #{runs['a'].pk} seed zero")
    assert all(kind == "own" for kind, _ in rows)  # nothing published for digits
    cifar = unescape(client.get("/leaderboard/?space=nb201&dataset=cifar10").content.decode())
    assert cifar.count('<tr class="published">') == 8
    assert "NAS-Bench-201 (Dong &amp; Yang, ICLR 2020)" in cifar or "NAS-Bench-201 (Dong & Yang, ICLR 2020)" in cifar
    assert "Dong and Yang, NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search, ICLR 2020" in cifar
    first = re.search(r'<tr class="published">(.*?)</tr>', cifar, re.S).group(1)
    assert "Best cell of the benchmark" in first and "94.37%" in first and "published" in first
    darts = unescape(client.get("/leaderboard/?space=darts&dataset=cifar10").content.decode())
    assert "DARTS (second order) + cutout" in darts and "97.24% ± 0.09%" in darts and "4 GPU days" in darts


@pytest.mark.parametrize("query, message", [
    ("?space=hexagons&dataset=cifar10", "'hexagons' is not a search space"),
    ("?space=darts&dataset=imagenet", "'imagenet' is not a dataset"),
    ("?space=darts", "Give the dataset too"),
    ("?space=darts&dataset=cifar10&page=2", "Unknown parameter 'page'"),
])
def test_leaderboard_rejects_unknown_spaces_and_datasets(client: Client, alice: Any, query: str, message: str) -> None:
    client.force_login(alice)
    response = client.get(f"/leaderboard/{query}")
    assert response.status_code == 400
    assert message in unescape(response.content.decode())


def test_leaderboard_shows_only_the_users_runs(client: Client, alice: Any, bob: Any, runs: dict[str, Any]) -> None:
    client.force_login(bob)
    body = client.get("/leaderboard/?space=darts&dataset=digits").content.decode()
    assert "seed zero" not in body and 'id="leaderboard-empty"' in body


@pytest.mark.skipif(not SHARED_REFERENCE.is_dir(), reason="../shared/reference is not present in this checkout")
def test_published_numbers_match_the_shared_reference() -> None:
    nb = json.loads((SHARED_REFERENCE / "nb201_published_results.json").read_text())
    darts = json.loads((SHARED_REFERENCE / "darts_genotypes.json").read_text())
    rows = lb.reference()["results"]
    nb_rows = [r for r in rows if r["source"] == "nb201"]
    assert len(nb_rows) == 3 * len(nb["results"])
    keys = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16_120": "imagenet16_120"}
    for row in nb_rows:
        published = nb["results"][row["method"]]
        assert row["val_pct"] == published[f"{keys[row['dataset']]}_valid"]
        assert row["test_pct"] == published[f"{keys[row['dataset']]}_test"]
    for row in (r for r in rows if r["source"] == "darts"):
        assert row["genotype"] == darts["genotypes"][row["genotype_name"]]
