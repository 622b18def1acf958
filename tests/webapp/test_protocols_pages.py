"""Protocols through the API and the form (accepted, recorded, refused with the reason, shown on the experiment
page), and the black-box regret section's protocol line with NAS-Bench-201's rows only under the paper's protocol."""
from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.webapp.support import SEARCH_FORM, form_data, login, token_for, unsent_experiment
from webapp.experiments.models import Experiment, Status
from webapp.experiments.presenters import leaderboard, regret
from webapp.experiments.services import runs

pytestmark = pytest.mark.django_db

SMALL = {"space": "darts", "dataset": "digits", "epochs": 2, "channels": 4, "layers": 3, "batch_size": 16,
         "device": "cpu", "search_augment": "none"}


def test_the_api_applies_and_records_a_protocol_and_refuses_an_unfitting_one(client: Client, alice: Any) -> None:
    headers = token_for(alice)
    body = {"name": "pc", "config": {**SMALL, "protocol": "pcdarts_cifar10", "optimizer": "pcdarts", "epochs": 20}}
    response = client.post("/api/experiments", json.dumps(body), content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    exp = Experiment.objects.get()
    assert exp.config["protocol"] == "pcdarts_cifar10" and exp.config["warmup_epochs"] == 15
    assert exp.config["w_lr"] == 0.1 and exp.config["epochs"] == 20  # the protocol's, then the given ones
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="protocol-line"' in html and "Started from the pcdarts_cifar10 protocol" in html
    assert "yuhuixu1993/PC-DARTS train_search.py" in html
    bad = {"name": "x", "config": {**SMALL, "protocol": "pcdarts_cifar10", "optimizer": "gdas"}}
    response = client.post("/api/experiments", json.dumps(bad), content_type="application/json", **headers)
    assert response.status_code == 400 and "optimizer 'pcdarts'" in json.dumps(response.json())
    unknown = {"name": "x", "config": {**SMALL, "protocol": "nope"}}
    response = client.post("/api/experiments", json.dumps(unknown), content_type="application/json", **headers)
    assert response.status_code == 400 and "choose one of: darts_cifar10" in json.dumps(response.json())
    assert Experiment.objects.count() == 1


def test_the_form_offers_protocols_with_their_values_and_records_the_one_picked(client: Client, alice: Any) -> None:
    html = login(client, alice).get("/experiments/new").content.decode()
    assert 'name="protocol"' in html and "DARTS on CIFAR-10" in html
    config = json.loads(html.split('id="protocol-config" type="application/json">')[1].split("</script>")[0])
    assert config["values"]["darts_cifar10"]["epochs"] == "50" and config["values"]["nb201_darts"]["w_nesterov"] == "true"
    assert config["lines"]["gdas_cifar10"].startswith("Started from the gdas_cifar10 protocol")
    assert config["initial"]["epochs"] == "10"
    response = client.post("/experiments/new", form_data(SEARCH_FORM, protocol="robustdarts_es", curvature_every=1,
                                                        search_augment="none"))
    assert response.status_code == 302, response.content.decode()[:2000]
    exp = Experiment.objects.get()
    assert exp.config["protocol"] == "robustdarts_es" and exp.config["early_stop"] == "es"
    html = client.post("/experiments/new", form_data(SEARCH_FORM, protocol="nb201_darts")).content.decode()
    assert "the nb201_darts protocol" in html and Experiment.objects.count() == 1


def test_leaderboard_keeps_the_blackbox_rows_for_the_regret_section() -> None:
    labels = [e.label for e in leaderboard.published_entries("nb201", "cifar10")]
    assert "Regularized Evolution" not in labels and "GDAS" in labels


def test_paper_rows_stand_beside_a_regret_curve_only_under_the_papers_cost_and_budget() -> None:
    paper = {"evaluator": "table", "budget": 12000, "budget_unit": "seconds", "query_cost": "12_epochs"}
    p = regret.run_protocol(paper, {"reward_epochs": 200}, None)
    assert p is not None and p["text"] == ("Protocol: reward 200-epoch validation accuracy; cost per query 12-epoch "
                                           "training time + one validation epoch (estimated: the table's 200-epoch "
                                           "time x 12/200); budget 12000 simulated seconds per run.")
    rows = regret.paper_rows("nb201", "cifar10", [p])
    assert rows is not None and "NAS-Bench-201" in rows["citation"] and "the rewards differ" in rows["note"]
    assert [r["text"] for r in rows["rows"]][:3] == [
        "Regularized Evolution: validation 91.19 ± 0.31%, test 93.92 ± 0.30%",
        "Random search: validation 90.93 ± 0.36%, test 93.70 ± 0.36%",
        "REINFORCE: validation 91.09 ± 0.37%, test 93.85 ± 0.37%"]
    same = regret.paper_rows("nb201", "cifar10", [regret.run_protocol(paper, {"reward_epochs": 12}, None)])
    assert same is not None and same["note"] == "Same reward, cost per query and budget as the paper."
    own_cost = regret.run_protocol({**paper, "query_cost": "table"}, {"reward_epochs": 200}, None)
    assert own_cost is not None and "cost per query 200-epoch training time" in own_cost["text"]
    assert regret.paper_rows("nb201", "cifar10", [own_cost]) is None
    assert regret.paper_rows("nb201", "cifar10", [p, own_cost]) is None  # every curve shown must match
    assert regret.paper_rows("nb201", "cifar10", [regret.run_protocol({**paper, "budget": 6000}, None, None)]) is None
    assert regret.run_protocol({"evaluator": "train"}, None, None) is None


@pytest.mark.django_db(transaction=True)
def test_a_table_run_with_the_papers_cost_shows_its_protocol_and_the_papers_rows(client: Client, alice: Any,
                                                                                 table: Any) -> None:
    config = {"space": "nb201", "optimizer": "rs", "evaluator": "table", "dataset": "cifar10", "budget": 12000,
              "budget_unit": "seconds", "query_cost": "12_epochs", "runs": 2, "device": "cpu"}
    exp = unsent_experiment(alice, "rs, paper's cost", config)
    assert runs.run_dispatched(exp.pk, exp.dispatch, "w@h") == Status.FINISHED
    exp.refresh_from_db()
    box = exp.result.raw["blackbox"]
    assert box["reward_epochs"] == 200 and box["query_cost"] == "12_epochs" and "estimated" in box["cost_label"]
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="regret-protocol"' in html and "reward 200-epoch validation accuracy" in html
    assert 'id="regret-paper"' in html and "Regularized Evolution: validation 91.19" in html
    other = unsent_experiment(alice, "rs, table cost", {**config, "query_cost": "table", "budget": 30,
                                                         "budget_unit": "queries"})
    assert runs.run_dispatched(other.pk, other.dispatch, "w@h") == Status.FINISHED
    html = client.get(f"/experiments/{other.pk}/").content.decode()
    assert "cost per query 200-epoch training time" in html and 'id="regret-paper"' not in html
    page = client.get(f"/compare/?ids={exp.pk},{other.pk}").content.decode()
    listed = page.split('id="regret-protocols">')[1].split("</ul>")[0]
    assert listed.count("reward 200-epoch validation accuracy") == 2 and "cost per query 200-epoch" in listed
    assert 'id="regret-paper"' not in page  # one of the two does not follow the paper's protocol
