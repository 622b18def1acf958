"""Pages for everyone: axe-core (vendored in static/vendor/axe-core/, injected by the test, never served to a user's
page) on every page of the dashboard in headless Chromium, with no violation of impact serious or critical allowed;
fields linked to their help and errors, progress bars and sortable headers that say their state, and layouts that
fit a 390 px wide phone without scrolling sideways.

With ``NASBOARD_A11Y_REPORT=FILE`` the per-page counts by impact are written there as JSON (for the release note)."""
from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from django.utils import timezone

from tests.webapp.browser_support import PASSWORD, log_in
from tests.webapp.compare_data import make_retrain, make_run
from tests.webapp.study_data import close_optuna_connections, make_study
from tests.webapp.support import unsent_experiment
from webapp.experiments.models import Experiment, Result, Status
from webapp.experiments.services import runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "static" / "vendor" / "axe-core" / "axe.min.js"
LADDER = (ROOT / "tests" / "nascore" / "spaces" / "ladder.yaml").read_text()
IMPACTS = ("critical", "serious", "moderate", "minor")
BLOCKING = ("critical", "serious")

OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3"]
EDGES = [f"{src}→{dst}" for dst in range(2, 6) for src in range(dst)]
GENOTYPE = {"normal": [["sep_conv_3x3" if i % 3 else "skip_connect", i % 2] for i in range(8)], "normal_concat": [2, 3, 4, 5],
            "reduce": [["max_pool_3x3", 0]] + [["sep_conv_3x3", 1]] * 7, "reduce_concat": [2, 3, 4, 5]}

@pytest.fixture(autouse=True, scope="module")
def _close_optuna() -> Iterator[None]:
    yield
    close_optuna_connections()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the whole page as it is now (Plotly's charts included): rule id, impact, help and the
    first few nodes."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
            nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' :: ' + (n.failureSummary || '').split('\\n').slice(0, 3).join(' '))}));
    }""")


def counts(violations: list[dict[str, Any]]) -> dict[str, Any]:
    """Violated rules and affected nodes by impact."""
    return {"violations": {i: sum(1 for v in violations if v["impact"] == i) for i in IMPACTS},
            "nodes": {i: sum(v["count"] for v in violations if v["impact"] == i) for i in IMPACTS},
            "rules": {v["id"]: v["impact"] for v in violations}}


def write_report(found: dict[str, Any]) -> None:
    target = os.environ.get("NASBOARD_A11Y_REPORT")
    if not target:
        return
    path = Path(target)
    earlier = json.loads(path.read_text()) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**earlier, **found}, indent=2, sort_keys=True) + "\n")


def _emit_epoch(sink: Any, seq: int, epoch: int, epochs: int) -> int:
    now = time.time()
    cells = {name: {"edges": EDGES, "ops": OPS, "weights": [[0.1, 0.15, 0.2, 0.25, 0.3] for _ in EDGES]}
             for name in ("normal", "reduce")}
    sink(seq, {"type": "epoch", "v": 1, "time": now, "epoch": epoch, "epochs": epochs, "train_loss": 2.0 - 0.1 * epoch,
               "train_acc": 0.1 * epoch, "val_loss": 2.1 - 0.1 * epoch, "val_acc": 0.08 * epoch, "lr": 0.02, "seconds": 1.0})
    sink(seq + 1, {"type": "arch", "v": 1, "time": now, "epoch": epoch, "kind": "softmax", "cells": cells})
    sink(seq + 2, {"type": "genotype", "v": 1, "time": now, "epoch": epoch, "genotype": GENOTYPE})
    sink(seq + 3, {"type": "curvature", "v": 1, "time": now, "epoch": epoch, "eigenvalue": 0.1 * epoch, "trace": 0.8 * epoch,
                   "round": 0, "method": "lanczos", "iterations": 8, "hvps": 12, "converged": True, "samples": 64,
                   "seconds": 0.5, "ratio": None})
    return seq + 4


def live_run(owner: Any, tiny_config: dict[str, Any], epochs_done: int = 2) -> tuple[Experiment, Any, int]:
    """A running search (never sent to a worker) with ``epochs_done`` epochs of events: curves, heatmaps, cells."""
    exp = unsent_experiment(owner, "live one", {**tiny_config, "epochs": 6}, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 6, "steps_per_epoch": 4, "device": "cpu",
             "start_epoch": 0})
    seq = 2
    for epoch in range(1, epochs_done + 1):
        seq = _emit_epoch(sink, seq, epoch, 6)
    # the sink stamps the heartbeat: move it into the future, so that no reaper takes the run for lost
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))
    return exp, sink, seq


def finished_run(owner: Any, tiny_config: dict[str, Any]) -> Experiment:
    exp = unsent_experiment(owner, "finished one", {**tiny_config, "epochs": 3}, Status.FINISHED)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 3, "steps_per_epoch": 4, "device": "cpu",
             "start_epoch": 0})
    seq = 2
    for epoch in (1, 2, 3):
        seq = _emit_epoch(sink, seq, epoch, 3)
    sink(seq, {"type": "finished", "v": 1, "time": time.time(), "status": "finished", "epoch": 3, "result": {}})
    Result.objects.create(experiment=exp, genotype=GENOTYPE, best_val_acc=0.24, val_acc=0.24, train_acc=0.3, params=1234,
                          epochs_completed=3)
    Experiment.objects.filter(pk=exp.pk).update(ended_at=timezone.now(), started_at=timezone.now() - timedelta(minutes=2))
    return exp


def open_page(page: Any, url: str, ready: tuple[str, ...] = ()) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    for selector in ready:
        page.wait_for_selector(selector)


def test_every_page_has_no_serious_or_critical_violation(live_server: Any, browser: Any, page: Any, alice: Any,
                                                         make_user: Any, tiny_config: dict[str, Any]) -> None:
    base = live_server.url
    live, _, _ = live_run(alice, tiny_config)
    done = finished_run(alice, tiny_config)
    one = make_run(alice, "seed zero", seed=0, val_accs=(0.5, 0.7, 0.90), eigenvalues=(0.3, 0.2, 0.25))
    two = make_run(alice, "seed one", seed=1, val_accs=(0.6, 0.8, 0.94), eigenvalues=(0.4, 0.3, 0.35))
    retrain = make_retrain(two, test_acc=0.95)
    study = make_study(alice, "tune the table", run=3)
    first = make_study(alice, "tpe study", run=2, pruner="none", trials=2, status=Status.FINISHED)
    second = make_study(alice, "random study", run=1, sampler="random", pruner="none", trials=2, status=Status.FINISHED)

    found: dict[str, Any] = {}
    details: dict[str, list[dict[str, Any]]] = {}

    def check(name: str, target: Any = None) -> None:
        violations = axe_violations(target or page)
        found[name] = {"url": (target or page).url.removeprefix(base), **counts(violations)}
        details[name] = violations

    page.goto(f"{base}/accounts/login/")
    check("login")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert] .errorlist")
    check("login with an error")
    log_in(page, base, "alice")

    pages: list[tuple[str, str, tuple[str, ...]]] = [
        ("experiment list", "/", ("table.experiments",)),
        ("experiment list, sorted by name", "/?sort=name", ("table.experiments",)),
        ("new experiment form", "/experiments/new", ("#experiment-form",)),
        ("live experiment", f"/experiments/{live.pk}/",
         ("#curve-loss .main-svg", "#heatmap-normal .main-svg", "#cells svg", "#curve-eigen .main-svg", "#log li")),
        ("finished experiment", f"/experiments/{done.pk}/",
         ("#result:not([hidden])", "#curve-acc .main-svg", "#heatmap-normal .main-svg", "#cells svg", "#log li")),
        ("retrain form", f"/experiments/{two.pk}/retrain", ("#retrain-page-form",)),
        ("retrain experiment", f"/experiments/{retrain.pk}/", ("#curve-acc .main-svg", "#cells svg")),
        ("comparison", f"/compare/?ids={one.pk},{two.pk},{done.pk}",
         ("#curve-val_acc .main-svg", "#compare-cells svg", "#compare-heatmaps .main-svg")),
        ("studies list", "/?kind=study", ("table.experiments",)),
        ("new study form", "/experiments/studies/new", ("#study-form",)),
        ("study", f"/experiments/{study.pk}/", ("#trial-rows tr", ".study-figure .main-svg")),
        ("studies comparison", f"/compare/?ids={first.pk},{second.pk}", ("#study-scatter .main-svg",)),
        ("spaces", "/spaces/", ("#builtin-spaces",)),
        ("space detail", "/spaces/darts/", ("#space-preview svg",)),
        ("new space form", "/spaces/new", ("#space-form",)),
        ("datasets", "/datasets/", ("#builtin-datasets",)),
        ("dataset detail", "/datasets/digits/", ("#dataset-summary",)),
        ("leaderboard", f"/leaderboard/?space={one.space}&dataset={one.dataset}", ("#leaderboard",)),
        ("API docs", "/api/docs", (".opblock",)),
    ]
    for name, path, ready in pages:
        open_page(page, base + path, ready)
        check(name)
    # the API docs with an operation of each kind opened: parameters, examples, responses
    for operation in (".opblock-get", ".opblock-post"):
        page.locator(operation).first.locator(".opblock-summary-control").click()
    page.wait_for_selector(".opblock-post .body-param__example")
    check("API docs, two operations open")

    # the forms again, as they come back with errors
    open_page(page, f"{base}/experiments/new", ("#experiment-form",))
    page.fill("#id_epochs", "0")
    page.click("button:has-text('Launch')")
    page.wait_for_selector("#error-epochs")
    check("new experiment form with errors")
    open_page(page, f"{base}/experiments/studies/new", ("#study-form",))
    page.fill("#id_trials", "0")
    page.click("button:has-text('Start the study')")
    page.wait_for_selector("#error-trials")
    check("new study form with errors")
    open_page(page, f"{base}/spaces/new", ("#space-form",))
    page.fill("#id_document", LADDER)
    page.click("#check-space")
    page.wait_for_selector("#space-preview svg.cell-graph")
    check("new space form, checked")

    # a missing page answers 404, which Chromium logs as a console error: its own context, with alice's session
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        context.add_cookies(page.context.cookies())
        other = context.new_page()
        response = other.goto(f"{base}/no/such/page/")
        assert response is not None and response.status == 404
        check("404 page", other)

        # Django's own admin, as staff (its index page only: the rest is Django's, not NASBoard's)
        make_user("staff", staff=True)
        context.clear_cookies()
        log_in_as(other, base, "staff")
        open_page(other, f"{base}/admin/", ("#content",))
        check("admin index", other)
    finally:
        context.close()

    write_report(found)
    blocking = {name: [v for v in violations if v["impact"] in BLOCKING] for name, violations in details.items()}
    blocking = {name: found for name, found in blocking.items() if found}
    assert not blocking, json.dumps(blocking, indent=1, ensure_ascii=False)
    assert len(found) == len(pages) + 8


def log_in_as(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_the_check_finds_what_it_is_for(page: Any) -> None:
    """The harness is not blind: an unlabelled input and an image without alt text are reported, with their impact."""
    page.set_content('<!doctype html><html lang="en"><head><title>t</title></head><body><main><h1>t</h1>'
                     '<input type="text"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                     '<p style="color:#aaa;background:#fff">faint</p></main></body></html>')
    violations = {v["id"]: v["impact"] for v in axe_violations(page)}
    assert violations.get("label") == "critical" and violations.get("image-alt") == "critical"
    assert violations.get("color-contrast") == "serious"


# ---- layouts from 360 px up: a 390 px wide phone scrolls no page sideways ------------------------------------------

PHONE = {"width": 390, "height": 844}

#: every element whose box reaches past the viewport's sides, unless an ancestor clips or scrolls it (a table in its
#: scrolling region); the page's own scroll width too. Plotly's text-measuring SVG (#js-plotly-tester) sits at
#: left -10000 px on purpose, out of sight, and is not part of the layout.
STICKING_OUT = """() => {
  const width = window.innerWidth;
  const inBox = (el) => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; };
  const out = [];
  for (const el of document.body.querySelectorAll('*:not(#js-plotly-tester, #js-plotly-tester *)')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || (r.right <= width + 0.5 && r.left >= -0.5) || inBox(el)) continue;
    out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.classList.length ? '.' + [...el.classList].join('.') : ''}`
      + ` [${Math.round(r.left)}, ${Math.round(r.right)}]`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, out: out.slice(0, 20)};
}"""


def test_a_phone_wide_screen_scrolls_no_page_sideways(live_server: Any, browser: Any, alice: Any, tiny_config: dict[str, Any],
                                                       tmp_path: Path) -> None:
    base = live_server.url
    live, _, _ = live_run(alice, tiny_config)
    one = make_run(alice, "seed zero with a rather long name that wraps", seed=0, val_accs=(0.5, 0.7, 0.90),
                   eigenvalues=(0.3, 0.2, 0.25))
    two = make_run(alice, "seed one", seed=1, val_accs=(0.6, 0.8, 0.94), eigenvalues=(0.4, 0.3, 0.35))
    make_retrain(two, test_acc=0.95)
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    try:
        log_in(page, base, "alice")
        pages = [
            ("list", "/", ("table.experiments",)),
            ("live experiment", f"/experiments/{live.pk}/",
             ("#curve-loss .main-svg", "#heatmap-normal .main-svg", "#cells svg", "#curve-eigen .main-svg")),
            ("comparison", f"/compare/?ids={one.pk},{two.pk},{live.pk}",
             ("#curve-val_acc .main-svg", "#compare-cells svg", "#compare-heatmaps .main-svg")),
            ("new experiment form", "/experiments/new", ("#experiment-form",)),
            ("leaderboard", f"/leaderboard/?space={one.space}&dataset={one.dataset}", ("#leaderboard",)),
        ]
        for name, path, ready in pages:
            open_page(page, base + path, ready)
            page.wait_for_timeout(300)  # Plotly's responsive resize runs after layout
            shot = tmp_path / f"{name.replace(' ', '-')}-390px.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 0
            found = page.evaluate(STICKING_OUT)
            assert found["innerWidth"] == PHONE["width"]
            assert found["scrollWidth"] <= found["innerWidth"] and not found["out"], (name, found)
        # the wide tables scroll in their own labelled, focusable region instead of the page
        open_page(page, base + "/", ("table.experiments",))
        region = page.locator(".table-wrap[role=region]").first
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("aria-label") == "Experiments table"
        assert page.evaluate("(() => { const r = document.querySelector('.table-wrap'); return r.scrollWidth > r.clientWidth; })()")
    finally:
        context.close()
    assert problems == [], problems


def test_the_live_page_moves_its_progress_bar_and_announces_its_status(live_server: Any, page: Any, alice: Any,
                                                                        tiny_config: dict[str, Any]) -> None:
    exp, sink, seq = live_run(alice, tiny_config, epochs_done=2)
    log_in(page, live_server.url, "alice")
    open_page(page, f"{live_server.url}/experiments/{exp.pk}/", ("#curve-loss .main-svg",))
    assert page.get_attribute("#progress-bar", "aria-valuenow") == "33.3"
    assert page.locator("[role=status] > #status").count() == 1 and page.get_attribute("#notice", "role") == "status"
    _emit_epoch(sink, seq, 3, 6)
    page.wait_for_function("document.getElementById('progress-bar').getAttribute('aria-valuenow') === '50.0'",
                           timeout=30_000)


def test_the_keyboard_skips_to_the_content_and_sees_where_it_is(live_server: Any, page: Any, alice: Any) -> None:
    make_run(alice, "one")
    log_in(page, live_server.url, "alice")
    page.keyboard.press("Tab")  # the first stop: the skip link, shown when it has the focus
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("document.activeElement.getBoundingClientRect().top") >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    page.keyboard.press("Tab")  # the next stop is in the content, drawn with a visible focus ring
    focused = page.evaluate("""(() => { const el = document.activeElement, s = getComputedStyle(el);
        return {inMain: !!el.closest('main'), style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; })()""")
    assert focused["inMain"] and focused["style"] == "solid" and focused["width"] >= 2, focused
