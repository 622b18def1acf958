"""Headless Chromium (Debian's, driven by Playwright) against a live server and a real worker."""
from __future__ import annotations

import os
import statistics
from typing import Any, Callable, Iterator

import pytest

from webapp.experiments import services
from webapp.experiments.models import Experiment, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-for-tests-123"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error or uncaught exception fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text} ({page.url})") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc} ({page.url})"))
    page.console_problems = problems
    yield page
    context.close()
    assert problems == [], "\n".join(problems)


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_launch_from_form_and_watch_it_live(shared_worker: Any, live_server: Any, page: Any, alice: Any) -> None:
    base = live_server.url
    log_in(page, base, "alice")
    page.click("text=New experiment")
    page.fill("#id_name", "from the browser")
    page.select_option("#id_space", "s3")
    page.select_option("#id_dataset", "digits")
    page.fill("#id_epochs", "4")
    page.fill("#id_batch_size", "32")
    page.select_option("#id_device", "cpu")
    page.click("summary")
    page.fill("#id_channels", "4")
    page.fill("#id_layers", "3")
    page.fill("#id_steps_per_epoch", "6")
    page.click("button:has-text('Launch')")
    page.wait_for_url("**/experiments/*/")
    exp = Experiment.objects.get(name="from the browser")
    assert exp.owner == alice and exp.config["epochs"] == 4

    # curves, heatmaps (both cell types) and the cell graph appear while it runs
    page.wait_for_function("window.nasboard.epochs.length >= 1", timeout=180_000)
    page.wait_for_selector("#curve-loss .main-svg")
    page.wait_for_selector("#curve-acc .main-svg")
    page.wait_for_selector("#heatmap-normal .main-svg")
    page.wait_for_selector("#heatmap-reduce .main-svg")
    assert page.locator("#cells svg .edge-label").count() > 0
    first_title = page.text_content("#heatmap-normal .gtitle")
    # zoom in on the loss curve; live redraws must keep it
    page.evaluate("Plotly.relayout('curve-loss', {'xaxis.range': [0.1, 0.9]})")
    seen = page.evaluate("window.nasboard.epochs.length")
    page.wait_for_function(f"window.nasboard.epochs.length > {seen}", timeout=120_000)
    page.wait_for_function("!document.querySelector('#heatmap-normal .gtitle').textContent.includes(%r)" % first_title.split(",")[-1].strip())
    assert page.evaluate("document.getElementById('curve-loss').layout.xaxis.range") == [0.1, 0.9]

    # it ends: polling stops, the result shows, the slider replays every epoch
    page.wait_for_function("window.nasboard.stopped", timeout=180_000)
    assert page.text_content("#status").strip() == "Finished"
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#cancel-form").is_hidden()
    assert page.evaluate("document.getElementById('epoch-slider').max") == "4"  # epochs 0..4
    page.fill("#epoch-slider", "0")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('epoch 0')")
    assert "epoch 0" in page.text_content("#cells h3")
    assert page.locator("#log li").count() >= 10
    polls = page.evaluate("window.nasboard.polls")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.nasboard.polls") == polls  # no more polling after the end
    lat = page.evaluate("window.nasboard.latencies")
    assert lat and statistics.median(lat) < 2.0, lat
    print(f"\nemit-to-browser delay over {len(lat)} events: median {statistics.median(lat):.3f}s, max {max(lat):.3f}s")

    page.click("text=Experiments")
    assert "from the browser" in page.text_content("table.experiments")


def test_cancel_from_the_page(shared_worker: Any, live_server: Any, page: Any, alice: Any, tiny_config: dict[str, Any],
                              wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "cancel me", {**tiny_config, "epochs": 40, "steps_per_epoch": 30, "step_log_every": 1})
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{exp.pk}/")
    page.wait_for_function("document.getElementById('progress-text').textContent.includes('step')", timeout=180_000)
    page.click("#cancel-button")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Cancelled')", timeout=60_000)
    assert page.locator("#resume-form").is_visible()
    assert page.locator("#cancel-form").is_hidden()
    assert Experiment.objects.get(pk=exp.pk).status == Status.CANCELLED


def test_every_page_without_console_errors(live_server: Any, page: Any, alice: Any, make_user: Any, tiny_config: dict[str, Any]) -> None:
    base = live_server.url
    exp = services.create_experiment(alice, "queued one", tiny_config)
    log_in(page, base, "alice")
    for path in ("/", "/?q=queued&sort=-acc", "/experiments/new", f"/experiments/{exp.pk}/", "/api/openapi.json"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
    # a bad form shows its messages
    page.goto(f"{base}/experiments/new")
    page.fill("#id_epochs", "0")
    page.click("button:has-text('Launch')")
    assert "positive integer" in page.text_content("#error-epochs")
    # the admin, as staff
    make_user("staff", staff=True)
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="staff").update(is_superuser=True)
    page.click("text=Log out")
    log_in(page, base, "staff")
    for path in ("/admin/", "/admin/experiments/experiment/", f"/admin/experiments/experiment/{exp.pk}/change/",
                 "/admin/experiments/result/", "/admin/experiments/event/", "/admin/experiments/apitoken/"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        assert "Server Error" not in page.content()
