"""The comparison's figures, from plain data: mean ± std over seeds, grouping, the best of each column, differing
edges. No database: these pin the arithmetic the comparison page shows."""
from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

from webapp.experiments.presenters import comparison as cmp
from webapp.experiments.presenters.comparison import RunData

BASE = {"space": "darts", "optimizer": "darts", "dataset": "digits", "epochs": 3, "w_lr": 0.025, "seed": 0, "device": "cpu"}


def run(id_: int, seed: int = 0, name: str = "", figures: dict[str, Any] | None = None, **config: Any) -> RunData:
    cfg = {**BASE, **config, "seed": seed}
    return RunData(id=id_, name=name or f"run {id_}", kind="search", config=cfg, seed=seed, space=cfg["space"],
                   optimizer=cfg["optimizer"], dataset=cfg["dataset"], figures=figures or {})


def test_mean_std_uses_the_sample_std() -> None:
    stat = cmp.mean_std([0.90, 0.92, 0.97])
    assert stat.n == 3
    assert stat.mean == pytest.approx(0.93)
    # sample std: sqrt(sum((x - mean)^2) / (n - 1)) = sqrt((0.0009 + 0.0001 + 0.0016) / 2)
    assert stat.std == pytest.approx(math.sqrt(0.0026 / 2))
    assert stat.std == pytest.approx(statistics.stdev([0.90, 0.92, 0.97]))
    assert stat.std != pytest.approx(statistics.pstdev([0.90, 0.92, 0.97]))


def test_mean_std_of_one_value_has_no_std_and_missing_values_are_skipped() -> None:
    assert cmp.mean_std([0.5]) == cmp.Stat(0.5, None, 1)
    assert cmp.mean_std([None, 0.5, float("nan"), True]) == cmp.Stat(0.5, None, 1)
    assert cmp.mean_std([]) == cmp.Stat(None, None, 0)
    assert cmp.mean_std([2, 4]) == cmp.Stat(3.0, math.sqrt(2), 2)


def test_runs_differing_only_by_seed_name_and_placement_are_grouped() -> None:
    a = run(1, seed=0, name="first")
    b = run(2, seed=1, name="second", device="cuda", data_dir="/elsewhere", num_workers=4, download=True)
    c = run(3, seed=2, w_lr=0.05)  # another learning rate: another setting
    d = run(4, seed=3, optimizer="gdas")
    e = run(5, seed=4)
    groups = cmp.group_runs([a, c, b, d, e])
    assert [g.ids for g in groups] == [[1, 2, 5], [3], [4]]
    assert groups[0].label == "darts · darts · digits (3 seeds: 0, 1, 4)"
    assert groups[1].label == "run 3"  # a group of one keeps the run's name


def test_a_retrain_never_groups_with_a_search_of_the_same_config() -> None:
    search = run(1)
    retrain = run(2, seed=1)
    retrain.kind = "retrain"
    assert [g.ids for g in cmp.group_runs([search, retrain])] == [[1], [2]]


def test_table_shows_mean_and_sample_std_per_group_and_bolds_the_best() -> None:
    runs = [
        run(1, seed=0, figures={"best_val_acc": 0.90, "params": 1000, "search_seconds": 30.0}),
        run(2, seed=1, figures={"best_val_acc": 0.94, "params": 1000, "search_seconds": 50.0}),
        run(3, seed=0, w_lr=0.1, figures={"best_val_acc": 0.93, "params": 900, "search_seconds": 20.0}),
        run(4, seed=0, w_lr=0.2, figures={"best_val_acc": None, "params": 900}),
    ]
    rows = cmp.table(cmp.group_runs(runs))
    first = rows[0]["cells"]["best_val_acc"]
    assert (first.mean, first.n) == (pytest.approx(0.92), 2)
    assert first.std == pytest.approx(statistics.stdev([0.90, 0.94]))
    assert rows[1]["cells"]["best_val_acc"].std is None  # a group of one shows no std
    assert rows[2]["cells"]["best_val_acc"] == cmp.Stat(None, None, 0)
    # accuracy: higher is better (0.93 beats the group mean 0.92)
    assert [r["best"]["best_val_acc"] for r in rows] == [False, True, False]
    # parameters and time: fewer is better; a tie shares the bold
    assert [r["best"]["params"] for r in rows] == [False, True, True]
    assert [r["best"]["search_seconds"] for r in rows] == [False, True, False]
    # a column only one row has (or none has) marks nothing
    assert not any(r["best"]["test_acc"] for r in rows)


def test_best_indices() -> None:
    assert cmp.best_indices([0.1, 0.3, None, 0.3], higher=True) == {1, 3}
    assert cmp.best_indices([5, 3, 4], higher=False) == {1}
    assert cmp.best_indices([None, 0.4], higher=True) == set()
    assert cmp.best_indices([], higher=True) == set()
    assert cmp.best_indices([0.5, None, 0.5], higher=True) == set()  # all equal: nothing stands out


def test_group_curves_average_per_epoch_with_a_band_only_where_two_seeds_have_the_point() -> None:
    a, b = run(1, seed=0), run(2, seed=1)
    a.epochs = [{"epoch": 1, "val_acc": 0.5, "val_loss": 1.0, "wall": 10.0}, {"epoch": 2, "val_acc": 0.7, "val_loss": 0.8, "wall": 20.0}]
    b.epochs = [{"epoch": 1, "val_acc": 0.6, "val_loss": 1.2, "wall": 14.0}]  # cancelled after one epoch
    a.curvature = [{"epoch": 1, "eigenvalue": 0.2, "wall": 11.0}]
    group = cmp.group_runs([a, b])[0]
    acc = cmp.group_curve(group, "val_acc")
    assert acc["epoch"] == [1, 2]
    assert acc["mean"] == [pytest.approx(0.55), pytest.approx(0.7)]
    assert acc["std"][0] == pytest.approx(statistics.stdev([0.5, 0.6])) and acc["std"][1] is None
    assert acc["n"] == [2, 1]
    assert acc["wall"] == [pytest.approx(12.0), pytest.approx(20.0)]
    eig = cmp.group_curve(group, "eigenvalue")
    assert eig["mean"] == [0.2] and eig["std"] == [None]
    assert cmp.group_curve(cmp.group_runs([b])[0], "eigenvalue") is None  # no curvature: no curve
    assert cmp.run_curve(b, "val_loss")["mean"] == [1.2]


DARTS_A = {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["skip_connect", 0], ["sep_conv_3x3", 1]],
           "normal_concat": [2, 3], "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 0]],
           "reduce_concat": [2, 3]}


def test_cell_edges_of_a_darts_genotype_and_an_nb201_string() -> None:
    edges = cmp.cell_edges(DARTS_A)
    assert edges["normal"] == [("0", "2", "sep_conv_3x3"), ("1", "2", "sep_conv_3x3"), ("0", "3", "skip_connect"),
                               ("1", "3", "sep_conv_3x3"), ("2", "out", ""), ("3", "out", "")]
    nb = cmp.cell_edges("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert nb == {"cell": [("0", "1", "nor_conv_3x3"), ("0", "2", "none"), ("1", "2", "skip_connect"),
                           ("0", "3", "avg_pool_3x3"), ("1", "3", "nor_conv_1x1"), ("2", "3", "none")]}
    assert cmp.cell_edges(None) == {}


def test_differing_edges_flag_what_not_every_genotype_shares() -> None:
    other = {**DARTS_A, "normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["dil_conv_3x3", 0], ["sep_conv_3x3", 1]]}
    marked = cmp.differing_edges([DARTS_A, other, DARTS_A])
    flags = [[(e["from"], e["to"], e["op"]) for e in m["normal"] if e["diff"]] for m in marked]
    assert flags == [[("0", "3", "skip_connect")], [("0", "3", "dil_conv_3x3")], [("0", "3", "skip_connect")]]
    assert all(not e["diff"] for m in marked for e in m["reduce"])  # identical reduce cells
    assert cmp.diff_summary(marked[1]) == {"normal": 1, "reduce": 0}


def test_differing_edges_count_repeated_edges_as_a_multiset() -> None:
    # two ops from the same input into one node (as in NASNet-A): one copy is shared, the second one differs
    twice = {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 0]], "normal_concat": [2]}
    once = {"normal": [["sep_conv_3x3", 0], ["skip_connect", 1]], "normal_concat": [2]}
    marked = cmp.differing_edges([twice, once])
    assert [e["diff"] for e in marked[0]["normal"]] == [False, True, False]
    assert [e["diff"] for e in marked[1]["normal"]] == [False, True, False]


def test_differing_edges_of_nb201_strings_and_single_or_missing_genotypes() -> None:
    a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    b = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
    marked = cmp.differing_edges([a, b, None])
    assert cmp.diff_summary(marked[0]) == {"cell": 3} and cmp.diff_summary(marked[1]) == {"cell": 3}
    assert [e["op"] for e in marked[1]["cell"] if e["diff"]] == ["none", "none", "none"]
    assert marked[2] == {}
    alone = cmp.differing_edges([a])
    assert not any(e["diff"] for e in alone[0]["cell"])
    # a cell type one genotype lacks differs entirely in the other
    assert all(e["diff"] for e in cmp.differing_edges([DARTS_A, a])[0]["normal"])


def test_leaderboard_ranks_test_accuracy_first_then_validation_with_shared_ranks() -> None:
    from webapp.experiments.presenters import leaderboard as lb

    entries = [lb.Entry("val only", val_acc=0.99), lb.Entry("retrained", val_acc=0.5, test_acc=0.95),
               lb.Entry("nothing"), lb.Entry("tie a", test_acc=0.96), lb.Entry("tie b", test_acc=0.96, published=True),
               lb.Entry("val lower", val_acc=0.90)]
    ranked = lb.rank(entries)
    assert [(e.rank, e.label) for e in ranked] == [(1, "tie a"), (1, "tie b"), (3, "retrained"), (4, "val only"),
                                                   (5, "val lower"), (6, "nothing")]


def test_published_entries_turn_percent_and_errors_into_fractions() -> None:
    from webapp.experiments.presenters import leaderboard as lb

    nb = {e.label: e for e in lb.published_entries("nb201", "cifar100")}
    assert nb["GDAS"].val_acc == pytest.approx(0.7134) and nb["GDAS"].test_acc == pytest.approx(0.707)
    assert all(e.published and "ICLR 2020" in e.citation for e in nb.values())
    darts = {e.label: e for e in lb.published_entries("darts", "cifar10")}
    v2 = darts["DARTS (second order) + cutout"]
    assert v2.test_acc == pytest.approx(0.9724) and v2.test_std == pytest.approx(0.0009) and v2.params == 3.3e6
    assert v2.cost == "4 GPU days"
    assert lb.published_entries("darts", "digits") == []
    assert ("nb201", "imagenet16_120") in lb.published_pairs()


def test_figures_are_formatted_in_their_unit_with_the_std_in_the_same_unit() -> None:
    from webapp.experiments.templatetags.compare import figure

    assert figure(cmp.Stat(0.92, 0.0283, 2), "pct") == "92.00 ± 2.83%"
    assert figure(cmp.Stat(0.93, None, 1), "pct") == "93.00%"
    assert figure(cmp.Stat(None, None, 0), "count") == "–"
    assert figure(3_349_342, "count") == "3.349M" and figure(3.3e6, "count") == "3.3M" and figure(528.1e6, "count") == "528.1M"
    assert figure(cmp.Stat(3725.0, 65.0, 2), "seconds") == "1h 02m ± 1m 05s"
    assert figure(42.0, "seconds") == "42.0s"
    assert figure(0.04166, "hours") == "0.0417"
