"""The genotype line (``genotype_text``) beside the genotype: in the API's result, on the result card, on a retrain's
page and on the comparison page, each with its Copy button."""
from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.test import Client

from nascore.spaces import SPACES
from tests.webapp.compare_data import make_retrain, make_run
from tests.webapp.support import token_for
from webapp.experiments.presenters.genotypes import genotype_line

pytestmark = pytest.mark.django_db

V2 = SPACES["darts"].published["darts_v2"]
V2_LINE = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
           "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
           "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
           "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
           "reduce_concat=[2, 3, 4, 5])")


def test_the_api_result_carries_the_genotype_line(client: Client, alice: Any) -> None:
    exp = make_run(alice, "v2", genotype=V2)
    body = client.get(f"/api/experiments/{exp.pk}", **token_for(alice)).json()
    assert body["result"]["genotype"] == V2 and body["result"]["genotype_text"] == V2_LINE


def test_the_result_card_and_the_retrain_page_show_the_line_with_a_copy_button(client: Client, alice: Any) -> None:
    search = make_run(alice, "v2", genotype=V2)
    retrain = make_retrain(search, test_acc=0.97)
    client.force_login(alice)
    for exp, code in ((search, "result-genotype"), (retrain, "retrain-genotype")):
        html = unescape(client.get(f"/experiments/{exp.pk}/").content.decode())
        assert f'<code id="{code}">{V2_LINE}</code>' in html
        assert f'data-copy-from="{code}" aria-label="Copy the genotype">Copy</button>' in html


def test_the_comparison_page_shows_each_runs_line(client: Client, alice: Any) -> None:
    best = SPACES["nb201"].published["nb201_best"]
    a = make_run(alice, "v2", genotype=V2)
    b = make_run(alice, "v1", genotype=SPACES["darts"].published["darts_v1"])
    client.force_login(alice)
    html = unescape(client.get(f"/compare/?ids={a.pk},{b.pk}").content.decode())
    assert f'<code id="genotype-{a.pk}">{V2_LINE}</code>' in html
    assert f'<code id="genotype-{b.pk}">Genotype(normal=[(\'sep_conv_3x3\', 1), ' in html
    assert genotype_line(best, "nb201") == best


def test_edge_ops_of_a_document_space_are_named_by_their_edges() -> None:
    space = "nascore/spaces/examples/fabric.yaml"
    rows = SPACES["darts"].edges("normal")  # any space's edge rows: the line follows the space it is given
    assert len(rows) == 14
    line = genotype_line({"normal": ["skip_connect"] * 14}, "darts")
    assert line.startswith("normal: 0→2 skip_connect · 1→2 skip_connect · 0→3 skip_connect") and line.count("·") == 13
    assert genotype_line({"fabric": ["skip_connect"]}, space) == "fabric: [skip_connect]"
