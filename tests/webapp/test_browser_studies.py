"""A study's live page in headless Chromium: Optuna's figures and the learning curves drawn with plotly, the trials
table sorted by a header click (``aria-sort``), a trial that ends while the page is open appearing at the next poll,
and no console errors (the ``page`` fixture fails the test on any)."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from nascore.hpo.study import make_problem, run_trial
from tests.webapp.browser_support import log_in
from tests.webapp.study_data import close_optuna_connections, make_study
from webapp.experiments.services.optuna_storage import load_study

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

FIGURES = ("history", "curves", "parallel", "importance", "slice")


@pytest.fixture(autouse=True, scope="module")
def _close_optuna() -> Iterator[None]:
    yield
    close_optuna_connections()


def values_in_order(page: Any) -> list[str]:
    return page.locator("#trial-rows tr td:nth-child(3)").all_inner_texts()


def test_the_study_page_draws_its_figures_sorts_its_trials_and_follows_the_study(live_server: Any, page: Any,
                                                                               alice: Any) -> None:
    study = make_study(alice, "tune in the browser", run=4)
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{study.pk}/")

    for key in FIGURES:  # each figure drawn by plotly, with data
        page.wait_for_function(
            f"(() => {{ const el = document.getElementById('fig-{key}');"
            " return el.classList.contains('js-plotly-plot') && el.data && el.data.length > 0; })()")
        assert page.locator(f"#fig-{key} .main-svg").count() > 0
        assert page.locator(f"#fig-{key}-empty").is_hidden()
    assert page.get_attribute("#progress-bar", "role") == "progressbar"
    assert page.get_attribute("#progress-bar", "aria-valuenow") == "4"

    header = page.locator("#trials th[data-col='value']")
    assert page.get_attribute("#trials th[data-col='number']", "aria-sort") == "ascending"
    header.click()  # highest value first
    assert header.get_attribute("aria-sort") == "descending"
    assert page.get_attribute("#trials th[data-col='number']", "aria-sort") is None
    shown = [float(v.rstrip("%")) for v in values_in_order(page) if v != "–"]
    assert shown == sorted(shown, reverse=True)
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    shown = [float(v.rstrip("%")) for v in values_in_order(page) if v != "–"]
    assert shown == sorted(shown)

    # a trial ends while the page is open: the next poll adds its row and moves the progress
    cfg = study.config
    run_trial(load_study(study), make_problem(cfg, None), cfg)
    page.wait_for_function("document.querySelectorAll('#trial-rows tr').length === 5", timeout=20_000)
    assert page.get_attribute("#progress-bar", "aria-valuenow") == "5"
    assert "5 of 6 trials done" in page.inner_text("#progress-text")
    assert header.get_attribute("aria-sort") == "ascending"  # the sort survives the redraw


def test_studies_compare_in_the_browser(live_server: Any, page: Any, alice: Any) -> None:
    from webapp.experiments.models import Status

    first = make_study(alice, "tpe study", run=2, pruner="none", trials=2, status=Status.FINISHED)
    second = make_study(alice, "random study", run=1, sampler="random", pruner="none", trials=2,
                        status=Status.FINISHED)
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/compare/?ids={first.pk},{second.pk}")
    page.wait_for_function("(() => { const el = document.getElementById('study-scatter');"
                           " return el.classList.contains('js-plotly-plot') && el.data[0].x.length === 2; })()")
    assert page.locator("#study-table tbody tr").count() == 2
