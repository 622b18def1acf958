"""Curation and the retrain page in headless Chromium: AJAX star/tags/notes/archive, safe notes, a retrain's live page."""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.webapp.browser_support import log_in
from tests.webapp.test_curation import stored
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Kind, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_curate_from_the_list_and_the_page(live_server: Any, page: Any, alice: Any) -> None:  # noqa: F811
    search = stored(alice, "curate in the browser")
    base = live_server.url
    log_in(page, base, "alice")
    page.evaluate("window.__sameDocument = true")  # gone if a click reloaded the page
    star = page.locator(f'.curation-flags[data-id="{search.pk}"] button[data-flag="starred"]')
    assert star.text_content().strip() == "☆"
    star.click()
    page.wait_for_function(f"document.querySelector('.curation-flags[data-id=\"{search.pk}\"] button').textContent.trim() === '★'")
    assert page.evaluate("window.__sameDocument") is True and Experiment.objects.get(pk=search.pk).starred

    page.goto(f"{base}/experiments/{search.pk}/")
    page.evaluate("window.__sameDocument = true")
    page.fill("#add-tag-input", "ablation")
    page.click("#add-tag-form button")
    page.wait_for_selector("#tags .tag-form .chip >> text=ablation")
    page.fill("#add-tag-input", "bad<tag>")
    page.click("#add-tag-form button")
    page.wait_for_selector("#curation-error:not([hidden])")
    assert "may hold only letters" in page.text_content("#curation-error")
    # the browser logs the expected 400 answer to the bad tag as a console error: that one is not a problem
    expected = [p for p in page.console_problems if "status of 400" in p]
    assert len(expected) == 1
    page.console_problems.remove(expected[0])
    assert [t.name for t in Experiment.objects.get(pk=search.pk).tags.all()] == ["ablation"]

    page.click("#notes-editor summary")
    page.fill("#notes-input", "**Seed 0** wins\n\n<img src=x onerror=\"window.__pwned=1\">\n\n"
                              "[evil](javascript:window.__pwned=2) [paper](https://arxiv.org/abs/1806.09055)")
    page.click("#notes-form button[type=submit]")
    page.wait_for_selector("#notes-rendered strong")
    assert page.text_content("#notes-rendered strong") == "Seed 0"
    assert page.locator("#notes-rendered img").count() == 0 and page.locator("#notes-rendered a").count() == 1
    assert page.get_attribute("#notes-rendered a", "href") == "https://arxiv.org/abs/1806.09055"
    assert page.evaluate("window.__pwned") is None

    page.click('.page-head .curation-flags button[data-flag="archived"]')
    page.wait_for_function("document.querySelector('.page-head button[data-flag=\"archived\"]').textContent.includes('restore')")
    page.click('.page-head .curation-flags button[data-flag="is_baseline"]')
    page.wait_for_function("document.querySelector('.page-head button[data-flag=\"is_baseline\"]').getAttribute('aria-pressed') === 'true'")
    page.click("#tags .tag-form .chip-remove")
    page.wait_for_selector("#no-tags")
    assert page.evaluate("window.__sameDocument") is True
    exp = Experiment.objects.get(pk=search.pk)
    assert (exp.starred, exp.is_baseline, exp.archived, list(exp.tags.all())) == (True, True, True, [])
    assert exp.notes.startswith("**Seed 0** wins")

    page.goto(f"{base}/")  # archived: hidden by default, shown by the filter
    assert "curate in the browser" not in page.text_content("main")
    page.select_option("select[name=archived]", "only")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("table.experiments >> text=curate in the browser")


def test_retrain_page_draws_curves_and_cell_and_links_back(live_server: Any, page: Any, alice: Any) -> None:  # noqa: F811
    search = stored(alice, "the search")
    retrain = stored(alice, "the retrain", kind=Kind.RETRAIN, parent=search, val=None, test=0.96)
    retrain.config = {**retrain.config, "genotype": search.result.genotype}
    retrain.save(update_fields=["config"])
    now = time.time()
    events = [Event(experiment=retrain, seq=1, type="run_started",
                    payload={"epochs": 3, "steps_per_epoch": 10, "device": "cpu", "start_epoch": 0, "resumed": False, "time": now})]
    for epoch in (1, 2, 3):
        events.append(Event(experiment=retrain, seq=len(events) + 1, type="step",
                            payload={"epoch": epoch, "step": 1, "steps_per_epoch": 10, "train_loss": 2.0 / epoch,
                                     "train_acc": 0.3 * epoch, "time": now}))
        events.append(Event(experiment=retrain, seq=len(events) + 1, type="eval_epoch",
                            payload={"epoch": epoch, "epochs": 3, "train_loss": 1.0 / epoch, "train_acc": 0.3 * epoch,
                                     "test_loss": 1.1 / epoch, "test_acc": 0.31 * epoch, "lr": 0.025, "drop_path": 0.0,
                                     "seconds": 1.0, "time": now}))
    events.append(Event(experiment=retrain, seq=len(events) + 1, type="finished",
                        payload={"status": "finished", "epoch": 3, "result": {}, "time": now}))
    Event.objects.bulk_create(events)
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{retrain.pk}/")
    page.wait_for_function("window.nasboard.stopped")
    page.wait_for_selector("#curve-loss .main-svg")
    assert page.evaluate("document.getElementById('curve-acc').data.map((t) => t.name)") == [
        "train acc (steps)", "train acc", "test acc"]
    assert page.evaluate("document.getElementById('curve-acc').data[2].y") == pytest.approx([0.31, 0.62, 0.93])
    assert page.locator("#cells svg .edge-label").count() > 0  # the trained cell, drawn from its genotype
    assert page.locator("#heatmaps").count() == 0 and "test acc (final epoch)" in page.text_content("#result")
    assert "epoch 3/3" in page.text_content("#log")
    page.click("#parent-link")
    page.wait_for_url(f"**/experiments/{search.pk}/")
    assert "the retrain" in page.text_content("#retrains") and "96.00%" in page.text_content("#retrains")

    # one click queues a retrain (small settings, cancelled at once: no worker runs it here)
    page.fill("#retrain-form input[name=epochs]", "1")
    page.fill("#retrain-form input[name=steps_per_epoch]", "1")
    page.click("#retrain-button")
    page.wait_for_url("**/experiments/*/")
    queued = Experiment.objects.filter(kind=Kind.RETRAIN, parent=search).exclude(pk=retrain.pk).get()
    # queued; a worker of another test in this session may already have taken it
    assert page.url.endswith(f"/experiments/{queued.pk}/") and queued.epochs == 1
    assert queued.status in (Status.QUEUED, Status.RUNNING)
    assert "Stand-alone training of the architecture found by search" in page.text_content("#lineage")
    services.cancel_experiment(queued)
