"""The genotype line a person copies: DARTS's Genotype(...) as quark0/darts writes it, NB-201's string, edge ops."""
from __future__ import annotations

import ast

from nascore.spaces import SPACES
from nascore.spaces.genotype_text import genotype_text

# quark0/darts, cnn/genotypes.py (commit 8876e79): the line of the cell NASBoard publishes as darts_v1
DARTS_LINE = ("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
              "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
              "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
              "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
              "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])")


def test_darts_v1_is_written_exactly_as_the_darts_code_writes_it() -> None:
    assert genotype_text(SPACES["darts"].published["darts_v1"]) == DARTS_LINE


def _read_back(text: str) -> dict:
    """The keyword arguments of a Genotype(...) line, as Python reads them."""
    call = ast.parse(text, mode="eval").body
    assert isinstance(call, ast.Call) and call.func.id == "Genotype"  # type: ignore[attr-defined]
    return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}


def test_every_published_darts_genotype_reads_back_as_the_same_cells() -> None:
    for name, genotype in SPACES["darts"].published.items():
        args = _read_back(genotype_text(genotype))
        assert list(args) == ["normal", "normal_concat", "reduce", "reduce_concat"], name
        for ct in ("normal", "reduce"):
            assert args[ct] == [tuple(pair) for pair in genotype[ct]], name
            assert args[f"{ct}_concat"] == genotype[f"{ct}_concat"], name


def test_nb201_genotypes_keep_the_benchmark_string() -> None:
    for name, text in SPACES["nb201"].published.items():
        assert genotype_text(text) == text, name
    assert genotype_text(" |skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|\n") \
        == "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"


def test_a_document_space_with_its_own_cell_names_keeps_them() -> None:
    genotype = {"plain": [["sep_conv_9x9", 0], ["max_pool_3x3", 1], ["skip_connect", 1]], "plain_concat": [2, 3]}
    assert genotype_text(genotype) == ("Genotype(plain=[('sep_conv_9x9', 0), ('max_pool_3x3', 1), "
                                       "('skip_connect', 1)], plain_concat=[2, 3])")


def test_edge_ops_name_each_edge_when_the_rows_are_known() -> None:
    genotype = {"rung": ["sep_conv_3x3", "none", "skip_connect"]}
    rows = {"rung": [[0, 1], [0, 2], [1, 2]]}
    assert genotype_text(genotype, rows) == "rung: 0→1 sep_conv_3x3 · 0→2 none · 1→2 skip_connect"
    assert genotype_text(genotype) == "rung: [sep_conv_3x3, none, skip_connect]"
    two = {"a": ["skip_connect"], "b": ["avg_pool_3x3"]}
    assert genotype_text(two, {"a": [[0, 1]], "b": [[0, 1]]}) == "a: 0→1 skip_connect; b: 0→1 avg_pool_3x3"


def test_no_genotype_is_an_empty_line_and_anything_else_compact_json() -> None:
    assert genotype_text(None) == "" and genotype_text({}) == ""
    assert genotype_text({"weird": 3}) == '{"weird":3}'
