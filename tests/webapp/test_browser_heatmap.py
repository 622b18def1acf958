"""The architecture heatmap's modes in headless Chromium, on a finished S3 search whose alphas are still small: the
softmax weights, the raw alphas and the change from uniform (on a colour scale centred on 0), each edge's strongest
op starred, enough decimals to tell a row's values apart, the mode kept across the slider and a reload."""
from __future__ import annotations

import math
from typing import Any

import pytest

from tests.webapp.browser_support import log_in
from tests.webapp.compare_data import make_run
from webapp.experiments.models import Event, Experiment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

OPS = ["none", "skip_connect", "sep_conv_3x3"]
EDGES = [f"{src}→{dst}" for dst in range(2, 6) for src in range(dst)]


def _alphas(epoch: int, cell: int) -> list[list[float]]:
    """Small alphas, as after an epoch or two of DARTS on S3: the softmax stays within a few hundredths of 1/3."""
    return [[round(0.004 * epoch * math.sin(1.7 * e + 2.3 * o + cell) + 0.0007 * (o - e % 3), 8) for o in range(len(OPS))]
            for e in range(len(EDGES))]


def _softmax(row: list[float]) -> list[float]:
    exps = [math.exp(v) for v in row]
    return [round(x / sum(exps), 6) for x in exps]


def _cells(epoch: int, with_alphas: bool = True) -> dict[str, Any]:
    cells = {}
    for index, name in enumerate(("normal", "reduce")):
        alphas = _alphas(epoch, index)
        cells[name] = {"edges": EDGES, "ops": OPS, "weights": [_softmax(r) for r in alphas]}
        if with_alphas:
            cells[name]["alphas"] = alphas
    return cells


def finished_search(owner: Any, name: str, with_alphas: bool = True) -> Experiment:
    """A finished search with arch events of epochs 0 to 3 (softmax weights, and the alphas unless told not to)."""
    exp = make_run(owner, name, val_accs=(0.4, 0.5, 0.6))
    Event.objects.filter(experiment=exp, type="arch").delete()
    seq = exp.last_seq
    for epoch in range(4):
        seq += 1
        Event.objects.create(experiment=exp, seq=seq, type="arch",
                             payload={"v": 1, "epoch": epoch, "kind": "softmax", "cells": _cells(epoch, with_alphas)})
    Experiment.objects.filter(pk=exp.pk).update(last_seq=seq)
    return exp


def _trace(page: Any) -> dict[str, Any]:
    return page.evaluate("""(() => { const t = document.getElementById('heatmap-normal').data[0];
      return { z: t.z, text: t.text, customdata: t.customdata, zmid: t.zmid ?? null, zmin: t.zmin ?? null,
               zmax: t.zmax ?? null, colorscale: t.colorscale }; })()""")


def _title(page: Any) -> str:
    return page.text_content("#heatmap-normal .gtitle")


def _close(got: list[list[float | None]], want: list[list[float]]) -> bool:
    return all(g == pytest.approx(w, abs=1e-9) for g, w in zip(got, want, strict=True))


def test_the_three_modes_rank_and_keep_their_choice(live_server: Any, page: Any, alice: Any) -> None:
    exp = finished_search(alice, "small alphas")
    last = _cells(3)["normal"]
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{exp.pk}/")
    page.wait_for_function("window.nasboard.stopped")
    page.wait_for_selector("#heatmap-normal .main-svg")
    assert page.locator("#heat-modes").is_visible()
    assert page.is_checked("input[name=heat-mode][value=weights]")
    assert page.text_content("#heat-mode-weights") == "softmax weights"

    # (a) the softmax weights, each edge's strongest op starred and ranked first in the hover
    trace = _trace(page)
    assert _close(trace["z"], last["weights"])
    for row, texts, custom in zip(last["weights"], trace["text"], trace["customdata"], strict=True):
        best = row.index(max(row))
        assert [j for j, t in enumerate(texts) if "★" in t] == [best]
        assert custom[best][1] == 1 and sorted(c[1] for c in custom) == [1, 2, 3]
        # as many decimals as the row needs: values that differ read differently (0.33 and 0.34 everywhere before)
        plain = [t.replace("<b>★ ", "").replace("</b>", "") for t in texts]
        assert len(set(plain)) == len(set(row)) and all(len(p.split(".")[1]) >= 3 for p in plain)
    assert trace["zmid"] is None  # a sequential scale for the weights

    # (b) the raw alphas, picked with the mouse
    page.click("text=raw alphas")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('raw alphas')")
    assert _close(_trace(page)["z"], last["alphas"])

    # (c) the change from uniform, picked with the keyboard: a diverging scale centred on 0
    page.focus("input[name=heat-mode][value=alphas]")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('change from uniform')")
    assert page.is_checked("input[name=heat-mode][value=change]")
    trace = _trace(page)
    assert _close(trace["z"], [[w - 1 / len(OPS) for w in row] for row in last["weights"]])
    assert trace["zmid"] == 0 and trace["zmin"] == -trace["zmax"] and trace["zmax"] > 0
    assert trace["zmax"] == pytest.approx(max(abs(w - 1 / 3) for row in last["weights"] for w in row))
    scale = trace["colorscale"]
    assert scale[0][0] == 0 and scale[-1][0] == 1 and scale[0][1] != scale[-1][1]  # two hues either side of 0
    for row, texts, z in zip(last["weights"], trace["text"], trace["z"], strict=True):
        assert [j for j, t in enumerate(texts) if "★" in t] == [row.index(max(row))]
        # a small change never reads as no change ("-0.000")
        plain = [float(t.replace("<b>★ ", "").replace("</b>", "")) for t in texts]
        assert all(p != 0 for p, v in zip(plain, z, strict=True) if v != 0), texts

    # the slider: the heatmap shows the epoch the cell drawing shows, still in the chosen mode
    page.fill("#epoch-slider", "1")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('epoch 1')")
    assert "change from uniform" in _title(page) and "epoch 1" in page.text_content("#cells h3")
    first = _cells(1)["normal"]
    assert _close(_trace(page)["z"], [[w - 1 / len(OPS) for w in row] for row in first["weights"]])

    # the choice outlives the page
    page.reload()
    page.wait_for_selector("#heatmap-normal .main-svg")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('change from uniform')")
    assert page.is_checked("input[name=heat-mode][value=change]")


def test_events_without_alphas_still_draw_and_offer_no_alphas(live_server: Any, page: Any, alice: Any) -> None:
    exp = finished_search(alice, "recorded before the alphas", with_alphas=False)
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{exp.pk}/")
    page.wait_for_selector("#heatmap-normal .main-svg")
    alphas = page.locator("input[name=heat-mode][value=alphas]")
    assert alphas.is_disabled()
    assert "without the raw alphas" in page.get_attribute("label:has(input[value=alphas])", "title")
    assert _close(_trace(page)["z"], _cells(3)["normal"]["weights"])
    page.click("text=change from uniform (1/n)")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('change from uniform')")
    assert _close(_trace(page)["z"], [[w - 1 / 3 for w in row] for row in _cells(3)["normal"]["weights"]])
