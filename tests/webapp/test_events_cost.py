"""What one poll of the live events endpoint costs: a fixed number of queries however long the history, and a
token that is not written on every poll. Speed itself is measured by ``manage.py bench_events``, not here."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.webapp.support import login
from webapp.experiments.api.auth import STAMP_EVERY
from webapp.experiments.management.commands.bench_events import History
from webapp.experiments.models import ApiToken, Experiment, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_run(alice: Any) -> Experiment:
    """A running DARTS search with 30 epochs of history (steps, epochs, both cells' distributions, genotypes)."""
    exp = Experiment.objects.create(owner=alice, name="long", config={"space": "darts"}, space="darts", optimizer="darts",
                                    dataset="cifar10", seed=0, device_requested="cpu", queue="none", status=Status.RUNNING,
                                    epochs=50)
    history = History(exp.pk, 50)
    history.start()
    for epoch in range(1, 31):
        history.epoch(epoch)
    return exp


def test_a_poll_costs_the_same_queries_however_long_the_history(client: Client, alice: Any, long_run: Experiment,
                                                                  django_assert_max_num_queries: Any) -> None:
    _, key = ApiToken.issue(alice)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    url = f"/api/experiments/{long_run.pk}/events"
    client.get(url, {"after": 0}, **headers)  # the token's first use is stamped
    # the token, the experiment, the events: whether the page holds 200 events or none
    for after, count in ((0, 200), (291, 10), (301, 0)):
        with django_assert_max_num_queries(3):
            body = client.get(url, {"after": after, "limit": 200}, **headers).json()
        assert len(body["events"]) == count
    # the dashboard's own polls (session login): the session and its user instead of the token
    login(client, alice)
    with django_assert_max_num_queries(4):
        body = client.get(url, {"after": 0}).json()
    assert body["events"][0]["type"] == "run_started" and body["last_seq"] == 301 and not body["more"]
    kinds = {e["type"] for e in body["events"]}
    assert kinds == {"run_started", "step", "epoch", "arch", "genotype", "checkpoint"}
    arch = next(e for e in body["events"] if e["type"] == "arch")
    assert set(arch["cells"]) == {"normal", "reduce"} and arch["text"] == "architecture distribution of epoch 1 (normal, reduce)"


def test_a_token_is_stamped_at_most_once_a_minute(client: Client, alice: Any, long_run: Experiment) -> None:
    token, key = ApiToken.issue(alice)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    url = f"/api/experiments/{long_run.pk}/events?after=301"
    assert client.get(url, **headers).status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert client.get(url, **headers).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first  # polled again within the minute: not written
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - STAMP_EVERY - timedelta(seconds=1))
    assert client.get(url, **headers).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first  # a minute on: written again
