"""Retrain lineage end to end: a real worker runs a tiny search, then its architecture's stand-alone training,
queued from the search page with one click; the retrain's result, links and pages; cancel and resume of a retrain."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from django.test import Client

from tests.webapp.support import ended
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Kind, Result, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.timeout(600)
def test_retrain_of_a_finished_search_end_to_end(shared_worker: Any, alice: Any, tiny_config: dict[str, Any],
                                                 wait_for: Callable[..., Any]) -> None:
    search = services.create_experiment(alice, "to retrain", {**tiny_config, "epochs": 1, "steps_per_epoch": 3,
                                                                     "curvature_every": 0})
    search = wait_for(lambda: ended(search.pk), 240, "the search to end")
    assert search.status == Status.FINISHED, f"{search.error}\n{shared_worker.log()[-3000:]}"
    client = Client()
    client.force_login(alice)
    page = client.get(f"/experiments/{search.pk}/").content.decode()
    assert 'id="retrain-form"' in page and "Not retrained yet." in page

    # one click on the search page (the form comes filled in; smaller sizes here to keep the test quick)
    response = client.post(f"/experiments/{search.pk}/retrain",
                           {"epochs": 2, "channels": 4, "layers": 3, "batch_size": 32, "steps_per_epoch": 6,
                            "seed": 0, "device": "cpu"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    retrain = Experiment.objects.get(kind=Kind.RETRAIN)
    assert response["Location"] == f"/experiments/{retrain.pk}/"
    retrain = wait_for(lambda: ended(retrain.pk), 240, "the retrain to end")
    assert retrain.status == Status.FINISHED, f"{retrain.error}\n{shared_worker.log()[-3000:]}"

    # the result: test accuracy, size, the trained genotype (the search's)
    result = Result.objects.get(experiment=retrain)
    search_result = Result.objects.get(experiment=search)
    assert 0.0 <= result.test_acc <= 1.0 and result.params > 0 and result.flops > 0 and result.epochs_completed == 2
    assert result.genotype == search_result.genotype and result.val_acc is None
    assert set(result.artifacts) == {"result.json", "events.jsonl", "checkpoint.pt"}
    assert json.loads(open(result.artifacts["result.json"]).read())["test_acc"] == result.test_acc
    # its events: typed, in order, progress and epochs like a search's, the same in the database and events.jsonl
    events = list(Event.objects.filter(experiment=retrain).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == "run_started" and types[-1] == "finished" and "step" in types
    epochs = [e.payload for e in events if e.type == "eval_epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and epochs[-1]["test_acc"] == result.test_acc
    assert [e.payload["epoch"] for e in events if e.type == "checkpoint"] == [1, 2]
    jsonl = [json.loads(line) for line in open(result.artifacts["events.jsonl"]).read().splitlines()]
    assert [(r["seq"], r["type"]) for r in jsonl] == [(e.seq, e.type) for e in events]
    assert retrain.epochs_done == 2 and retrain.progress == 1.0 and retrain.seconds_per_epoch

    # lineage both ways, on the pages and in the API and the export
    assert retrain.parent_id == search.pk and list(search.retrains.all()) == [retrain]
    page = client.get(f"/experiments/{retrain.pk}/").content.decode()
    assert f'href="/experiments/{search.pk}/" id="parent-link"' in page and "Result of the stand-alone training" in page
    assert f"{result.test_acc * 100:.2f}%" in page and 'id="retrain-cell"' in page
    assert "Architecture distribution" not in page and 'id="curvature"' not in page
    page = client.get(f"/experiments/{search.pk}/").content.decode()
    row = page.split(f'<tr data-id="{retrain.pk}">')[1].split("</tr>")[0]
    assert f'href="/experiments/{retrain.pk}/"' in row and "Finished" in row and f"{result.test_acc * 100:.2f}%" in row
    api = client.get(f"/api/experiments/{search.pk}").json()
    assert api["retrains"] == [{"id": retrain.pk, "name": retrain.name, "status": "finished", "test_acc": result.test_acc}]
    assert client.get(f"/api/experiments/{retrain.pk}").json()["result"]["test_acc"] == result.test_acc
    exported = json.loads(client.get("/experiments/export.json").content)["experiments"]
    by_id = {r["id"]: r for r in exported}
    assert by_id[search.pk]["retrain_test_acc"] == result.test_acc and by_id[retrain.pk]["parent_id"] == search.pk

    # a retrain is cancelled and resumed through the same machinery as a search, continuing from its checkpoint
    response = client.post(f"/api/experiments/{search.pk}/retrain", data=json.dumps(
        {"name": "stop and go", "config": {"epochs": 3, "channels": 4, "layers": 3, "batch_size": 8, "steps_per_epoch": 25,
                                                   "device": "cpu"}}),
        content_type="application/json")
    assert response.status_code == 201, response.content
    second = Experiment.objects.get(pk=response.json()["id"])
    wait_for(lambda: Event.objects.filter(experiment=second, type="checkpoint", payload__epoch=1).exists(), 180,
             "the second retrain's first checkpoint")
    services.cancel_experiment(second)
    second = wait_for(lambda: ended(second.pk), 60, "the second retrain to stop")
    assert second.status == Status.CANCELLED, second.status
    services.resume_experiment(second)
    second = wait_for(lambda: ended(second.pk), 240, "the resumed retrain to end")
    assert second.status == Status.FINISHED, second.error
    events = list(Event.objects.filter(experiment=second).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.payload["epoch"] for e in events if e.type == "eval_epoch"] == [1, 2, 3]  # none lost, none repeated
    starts = [e.payload for e in events if e.type == "run_started"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["start_epoch"] >= 1
    assert [e.payload["status"] for e in events if e.type == "finished"] == ["finished"]  # the cancel was rewound
    assert Result.objects.get(experiment=second).epochs_completed == 3
    assert sorted(r.pk for r in search.retrains.all()) == [retrain.pk, second.pk]
