"""Headless Chromium: pick experiments on the list with checkboxes, open the comparison, read its plots, table,
cells and heatmaps; sort the table, switch the axis, follow the permalink; the leaderboard. No console errors."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.webapp.browser_support import DRAWN_TRACES, log_in
from tests.webapp.compare_data import darts_genotype, make_retrain, make_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_pick_with_checkboxes_and_open_the_comparison(live_server: Any, page: Any, alice: Any, bob: Any) -> None:  # noqa: F811
    a = make_run(alice, "seed zero", seed=0, val_accs=(0.5, 0.7, 0.90), eigenvalues=(0.3, 0.2, 0.25))
    b = make_run(alice, "seed one <i>x</i>", seed=1, val_accs=(0.6, 0.8, 0.94), eigenvalues=(0.4, 0.3, 0.35))
    c = make_run(alice, "higher lr", seed=0, val_accs=(0.6, 0.85, 0.93), genotype=darts_genotype("dil_conv_3x3"), w_lr=0.1)
    make_retrain(c, test_acc=0.96)
    make_run(bob, "not alice's")
    base = live_server.url
    log_in(page, base, "alice")

    button = page.locator("#compare-button")
    assert button.is_disabled()
    for exp in (a, b, c):
        page.check(f"input.pick[value='{exp.pk}']")
    assert page.locator("#compare-count").inner_text() == "3 ticked"
    button.click()
    page.wait_for_url(re.compile(r".*/compare/\?ids=[\d,]+$"))
    picked = [int(x) for x in page.url.split("ids=")[1].split(",")]
    assert sorted(picked) == sorted([a.pk, b.pk, c.pk])
    # the retrain of c (listed too) was not ticked, so it is not compared

    # curves: three plots (val acc, loss, eigenvalue) drawn; the seed group as a band plus its mean line
    for metric in ("val_acc", "val_loss", "eigenvalue"):
        page.wait_for_selector(f"#curve-{metric} .main-svg")
    assert page.locator("#curve-val_acc .scatterlayer .trace").count() == 4  # band edges (2) + 2 mean lines
    page.select_option("#x-axis", "wall")
    page.wait_for_function("window.nasboard.axis === 'wall'")
    assert "wall-clock" in page.locator("#curve-val_acc .g-xtitle").text_content()
    page.uncheck("#group-seeds")
    page.wait_for_function("document.querySelectorAll('#curve-val_acc .scatterlayer .trace').length === 3")
    # one line per run, named as the user wrote it (markup in a name is shown, not interpreted)
    assert f"#{b.pk} seed one <i>x</i> (seed 1)" in page.locator("#curve-val_acc .legendtext").all_text_contents()

    # the table: one row per group, the best in bold, sortable
    table = page.locator("#compare-table")
    assert table.is_visible()
    rows = page.locator("#compare-table tbody tr")
    assert rows.count() == 2
    assert page.locator("#compare-table td.best[data-key='best_val_acc'] strong").inner_text() == "93.00%"
    page.click("#compare-table th:has-text('Best val acc')")  # higher is better: best first
    assert "higher lr" in rows.nth(0).inner_text()
    page.click("#compare-table th:has-text('Best val acc')")
    assert "2 seeds" in rows.nth(0).inner_text()

    # cells side by side with the differing edge highlighted; heatmaps side by side
    page.wait_for_selector(f"#cell-{c.pk}-normal svg")
    assert page.locator(f"#cell-{c.pk}-normal .edge-label.diff").all_text_contents() == ["dil_conv_3x3"]
    assert page.locator(f"#cell-{a.pk}-normal .edge-label.diff").all_text_contents() == ["skip_connect"]
    assert page.locator(f"#cell-{a.pk}-reduce .edge.diff").count() == 0
    for exp in (a, b, c):
        page.wait_for_selector(f"#heatmap-{exp.pk}-normal .main-svg")
    drawn = page.evaluate(DRAWN_TRACES)  # every trace drawn is one our plotly.js build registers
    assert drawn["types"] == ["heatmap", "scatter"] and drawn["unknown"] == []
    assert [src.rsplit("/", 1)[-1] for src in drawn["bundle"]] == ["plotly-scatter-heatmap.min.js"]

    # the permalink reproduces the comparison
    permalink = page.input_value("#permalink")
    rows_before = rows.all_inner_texts()
    page.goto(permalink)
    page.wait_for_selector("#curve-val_acc .main-svg")
    assert sorted(page.locator("#compare-table tbody tr").all_inner_texts()) == sorted(rows_before)

    page.goto(f"{base}/leaderboard/?space=nb201&dataset=cifar10")
    assert page.locator("#leaderboard tr.published").count() == 8
    assert "ICLR 2020" in page.locator("#sources").inner_text()
