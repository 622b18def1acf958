"""The live page's head preloads the first pages of its run's history (views.experiments.history_preloads), and the
page's script takes them from there instead of asking the server again."""
from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from tests.webapp.browser_support import log_in
from webapp.experiments.management.commands.bench_events import History
from webapp.experiments.models import Experiment, Status
from webapp.experiments.views.experiments import PRELOADED_PAGES, history_preloads


@override_settings(NASBOARD_EVENTS_PAGE=10)
def test_the_preloads_are_the_pages_the_script_asks_for_first() -> None:
    assert history_preloads("/api/experiments/7/events", 0) == ["/api/experiments/7/events?after=0"]
    assert history_preloads("/api/experiments/7/events", 10) == ["/api/experiments/7/events?after=0"]
    assert history_preloads("/api/experiments/7/events", 11) == ["/api/experiments/7/events?after=0",
                                                                "/api/experiments/7/events?after=10"]
    many = history_preloads("/e", 10_000)
    assert len(many) == PRELOADED_PAGES and many[-1] == f"/e?after={10 * (PRELOADED_PAGES - 1)}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_the_page_reads_its_history_from_the_preloads(live_server: Any, page: Any, alice: Any) -> None:
    exp = Experiment.objects.create(owner=alice, name="preloaded", config={"space": "darts"}, space="darts",
                                    optimizer="darts", dataset="digits", seed=0, device_requested="cpu", queue="none",
                                    status=Status.RUNNING, epochs=3)
    history = History(exp.pk, 3, steps_per_epoch=20, step_log_every=5)
    history.start()
    for epoch in range(1, 4):
        history.epoch(epoch)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED)
    with override_settings(NASBOARD_EVENTS_PAGE=10):
        log_in(page, live_server.url, "alice")
        page.goto(f"{live_server.url}/experiments/{exp.pk}/")
        page.wait_for_function("window.nasboard.loaded")
    pages = [f"/api/experiments/{exp.pk}/events?after={after}" for after in range(0, history.seq, 10)]
    assert len(pages) >= 3
    preloads = page.eval_on_selector_all("link[rel=preload]", "links => links.map((l) => l.getAttribute('href'))")
    assert preloads == pages
    fetched = page.evaluate("""() => performance.getEntriesByType("resource").map((r) => new URL(r.name))
                                 .filter((u) => u.pathname.endsWith("/events")).map((u) => u.pathname + u.search)""")
    # each page read once, whatever order they came back in: the script's requests were answered by the preloads
    assert sorted(fetched) == sorted(pages)
    assert page.evaluate("window.nasboard.lastSeq") == history.seq
    assert page.evaluate("window.nasboard.epochs.length") == 3
