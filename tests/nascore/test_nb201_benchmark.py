"""NAS-Bench-201 as a tabular benchmark: import checks, queries (validation and test kept apart),
isomorphic cells, black-box search on the table, table runs through the runner and the CLI."""
import json
import time

import numpy as np
import pytest
import torch

from nascore.benchmarks import import_table, load_table, stored_file, table_problem
from nascore.benchmarks.isomorphism import (
    canonical_form,
    classes,
    isomorphic,
    live_edges,
    prune,
    unique_count,
)
from nascore.benchmarks.nb201 import (
    NUM_ARCHS,
    BenchmarkError,
    NB201Table,
    arch_code,
    code_arch,
    code_ops,
    import_csv,
    to_code,
)
from nascore.benchmarks.runner import describe_result
from nascore.benchmarks.search import (
    curves,
    curves_over_time,
    search_many,
    search_table,
)
from nascore.cli import main as cli_main
from nascore.config import ConfigError, validate_config
from nascore.events import read_events
from nascore.optimizers.components.samplers import LocalSearch, PolicySampler
from nascore.optimizers.components.sampling import generator_for
from nascore.runner import run_search
from nascore.spaces.base import GenotypeError
from nascore.spaces.nb201 import PUBLISHED
from tests.nascore.support import stop_after
from tests.nb201_data import (
    HEADER,
    csv_rows,
    require_real_csv,
    store_synthetic,
    synthetic_table,
    write_csv,
)

ALL_SKIP = PUBLISHED["nb201_all_skip"]
BEST = PUBLISHED["nb201_best"]


# ---- architectures as codes ---------------------------------------------------------------------------

def test_codes_name_every_cell_once_and_read_every_form():
    assert arch_code(["none"] * 6) == 0 and arch_code(["avg_pool_3x3"] * 6) == NUM_ARCHS - 1
    assert len({code_arch(c) for c in range(0, NUM_ARCHS, 7)}) == len(range(0, NUM_ARCHS, 7))
    code = to_code(BEST)
    assert code_arch(code) == BEST and arch_code(code_ops(code)) == code
    assert to_code("nb201_best") == to_code(code_ops(code)) == to_code({"cell": [3, 3, 3, 1, 3, 3]}) == code
    for bad, words in ((BEST.replace("~2|", "~1|"), "must read op~2"), (["none"] * 5, "6 edges"),
                       ({"cell": [0] * 6, "x": [1]}, "columns"), ({"cell": [0, 0, 0, 0, 0, 5]}, "column in 0..4"),
                       (NUM_ARCHS, "0..15624"), (1.5, "cannot read")):
        with pytest.raises(GenotypeError, match=words):
            to_code(bad)


# ---- import: every problem named, nothing stored ---------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic_rows():
    return csv_rows(synthetic_table(0))


def _broken(rows, tmp_path, edit):
    rows = [list(r) for r in rows]
    edit(rows)
    return write_csv(tmp_path / "broken.csv", rows)


def test_import_names_each_bad_row_and_column_and_stores_nothing(synthetic_rows, tmp_path):
    col = {name: HEADER.index(name) for name in HEADER}

    def edit(rows):
        rows[5][col["arch_str"]] = "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # line 6
        rows[9][col["arch_str"]] = rows[3][col["arch_str"]]  # line 10 repeats line 4
        rows[20][col["valid-accuracy"]] = "101.5"  # line 21
        rows[30][col["test-loss"]] = "abc"  # line 31
        rows[40][col["train-all-time"]] = "-3"  # line 41
        rows[50][col["test-accuracy"]] = "nan"  # line 51

    path = _broken(synthetic_rows, tmp_path, edit)
    store = tmp_path / "store"
    with pytest.raises(BenchmarkError) as exc:
        import_table(path, "nb201", "cifar10", store)
    message = str(exc.value)
    assert "6 problems" in message
    assert "line 6, column arch_str" in message and "unknown op 'conv'" in message
    assert "line 10, column arch_str" in message and "repeats the architecture of line 4" in message
    assert "line 21, column valid-accuracy: 101.5 is out of range (accuracy must be [0, 100])" in message
    assert "line 31, column test-loss: 'abc' is not a number" in message
    assert "line 41, column train-all-time: -3 is out of range" in message
    assert "line 51, column test-accuracy: nan is out of range" in message
    assert not store.exists()
    # the CLI says the same and exits with status 2
    assert cli_main(["benchmark", "import", str(path), "--store", str(store)]) == 2
    assert not store.exists()


def test_import_refuses_missing_columns_and_missing_architectures(synthetic_rows, tmp_path, capsys):
    no_valid = _broken(synthetic_rows, tmp_path, lambda rows: [r.pop(HEADER.index("valid-accuracy")) for r in rows])
    with pytest.raises(BenchmarkError, match="missing required column valid-accuracy"):
        import_csv(no_valid)
    short = write_csv(tmp_path / "short.csv", synthetic_rows[:-1])
    with pytest.raises(BenchmarkError, match=r"15,624 architectures, but NAS-Bench-201 has 15,625 distinct ones; "
                                             r"for example \|avg_pool_3x3~0\|.* is missing"):
        import_csv(short)
    empty = write_csv(tmp_path / "empty.csv", [])
    with pytest.raises(BenchmarkError, match="the file is empty"):
        import_csv(empty)
    with pytest.raises(BenchmarkError, match="unknown dataset 'svhn'"):
        import_csv(short, dataset="svhn")
    assert cli_main(["benchmark", "import", str(tmp_path / "nope.csv"), "--store", str(tmp_path / "s")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_valid_file_is_stored_compactly_and_loads_fast(synthetic_rows, tmp_path):
    table = synthetic_table(0)
    path = write_csv(tmp_path / "ok.csv", synthetic_rows)
    imported, stored = import_table(path, "nb201", "cifar10", tmp_path / "store")
    assert stored == stored_file("nb201", "cifar10", tmp_path / "store") and stored.stat().st_size < 2_000_000
    start = time.perf_counter()
    loaded = NB201Table.load(stored)
    assert time.perf_counter() - start < 0.5
    for name in ("valid_acc", "test_acc", "train_time"):
        assert np.allclose(loaded.metric(name), table.metric(name), rtol=0, atol=1e-9)
    assert loaded.meta["rows"] == NUM_ARCHS and len(loaded.meta["sha256"]) == 64
    assert load_table("nb201", "cifar10", tmp_path / "store").valid_acc(BEST) == pytest.approx(table.valid_acc(BEST))
    assert "no NAS-Bench-201 table for cifar100" in table_problem("nb201", "cifar100", tmp_path / "store")
    with pytest.raises(KeyError, match="unknown metric 'accuracy'"):
        loaded.metric("accuracy")


# ---- the real table -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_table():
    return import_csv(require_real_csv())


def test_real_table_matches_the_paper(real_table):
    best = real_table.best("valid_acc")
    assert best.valid_acc == pytest.approx(91.607, abs=1e-3)  # the paper's optimum, 91.61
    skip = real_table.query("nb201_all_skip")
    assert skip.valid_acc == pytest.approx(39.77, abs=5e-3)  # DARTS's collapse in the paper's table
    assert real_table.valid_acc(ALL_SKIP) == skip.valid_acc


def test_validation_and_test_are_never_mixed(real_table):
    import csv

    with open(require_real_csv(), newline="") as fh:
        rows = {row["arch_str"]: row for row in csv.DictReader(fh)}
    for arch in (BEST, ALL_SKIP, real_table.best().arch, code_arch(1234)):
        record, row = real_table.query(arch), rows[arch]
        assert record.valid_acc != record.test_acc
        assert record.valid_acc == pytest.approx(float(row["valid-accuracy"]), abs=1e-9)
        assert record.test_acc == pytest.approx(float(row["test-accuracy"]), abs=1e-9)
        assert record.valid_loss == pytest.approx(float(row["valid-loss"]), abs=1e-9)
        assert record.test_loss == pytest.approx(float(row["test-loss"]), abs=1e-9)
        assert real_table.valid_acc(arch) == record.valid_acc and real_table.test_acc(arch) == record.test_acc
    assert not np.array_equal(real_table.metric("valid_acc"), real_table.metric("test_acc"))


# ---- isomorphism --------------------------------------------------------------------------------------------

def test_edges_that_cannot_affect_the_output_are_discounted():
    # node 1 receives nothing (none~0), so its outgoing edges carry nothing
    a = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    b = "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_1x1~2|"
    assert live_edges(code_ops(to_code(a))) == [False, True, False, True, False, True]
    assert prune(a) == prune(b) == "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
    for rule in ("paper", "pruned", "function"):
        assert isomorphic(a, b, rule)
    # node 2 does not reach the output (none~2), so the edges into it are dead
    c = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|"
    d = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|"
    assert isomorphic(c, d) and isomorphic(c, d, "pruned")
    # every cell whose output edges are all none is the zero cell
    zero = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert isomorphic("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|", zero)
    # a live edge's op matters
    assert not isomorphic(BEST, BEST.replace("nor_conv_3x3~2", "nor_conv_1x1~2"))
    assert not isomorphic(a, a.replace("nor_conv_1x1~2", "avg_pool_3x3~2"), "function")


def test_summed_terms_commute_but_only_the_function_rule_sees_through_skips():
    # node 1 = x (skip); the output sums conv3(x) (edge 0->3) and conv1(node 1) = conv1(x): swapping them
    a = "|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|"
    b = "|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"
    assert isomorphic(a, b, "paper") and isomorphic(a, b, "function") and not isomorphic(a, b, "pruned")
    # conv(x) + conv(skip(x)) versus the same conv twice on one path: equal as functions only
    c = "|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|"
    assert canonical_form(c, "function") == "nor_conv_3x3(x)+nor_conv_3x3(x)"
    with pytest.raises(ValueError, match="unknown isomorphism rule"):
        canonical_form(c, "graph")


def test_unique_cells_match_the_paper():
    assert unique_count("paper") == 6466  # NAS-Bench-201: 6,466 unique cells of 15,625
    assert unique_count("pruned") == 9445
    assert unique_count("function") == 4930
    sizes = classes("paper")
    assert sum(sizes.values()) == NUM_ARCHS and max(sizes.values()) > 1


# ---- black-box search on the table ----------------------------------------------------------------------------

def test_searches_are_seeded_and_report_the_returned_cells_test_accuracy():
    table = synthetic_table(1)
    for method in ("rs", "re", "reinforce", "ls"):
        a, b = (search_table(table, method, seed=3, queries=60) for _ in range(2))
        assert np.array_equal(a.codes, b.codes) and len(a) == 60
        assert not np.array_equal(a.codes, search_table(table, method, seed=4, queries=60).codes)
        assert np.all(np.diff(a.best_valid) >= 0)
        returned = a.returned()
        assert returned["valid_acc"] == a.valid.max() == table.valid_acc(returned["code"])
        assert returned["test_acc"] == table.test_acc(returned["code"]) != returned["valid_acc"]
        assert a.best_test[-1] == returned["test_acc"]  # the incumbent's test accuracy, not the best test seen
    timed = search_table(table, "rs", seed=0, seconds=5_000)
    assert timed.elapsed[-2] < 5_000 <= timed.elapsed[-1]
    grid = curves_over_time([timed], np.array([1.0, 5_000.0, timed.elapsed[-1]]))
    assert grid["valid_mean"][0] is None  # no query has finished after one simulated second
    assert grid["valid_mean"][1:] == pytest.approx([timed.best_valid[-2], timed.best_valid[-1]])
    with pytest.raises(ValueError, match="give a budget"):
        search_table(table, "rs")
    with pytest.raises(ValueError, match="unknown black-box method 'bohb'"):
        search_table(table, "bohb", queries=3)


def test_local_search_climbs_without_repeating_itself():
    table = synthetic_table(2)
    run = search_table(table, "ls", seed=0, queries=200)
    assert len(set(run.codes.tolist())) == len(run)  # nothing evaluated twice
    assert run.best_valid[-1] == pytest.approx(table.best().valid_acc)  # the synthetic landscape's optimum


@pytest.mark.parametrize("make", [lambda m, g: PolicySampler(m, g, lr=0.1), lambda m, g: LocalSearch(m, g)])
def test_new_samplers_resume_exactly(make):
    masks = {"cell": torch.ones(6, 5, dtype=torch.bool)}
    table = synthetic_table(0)
    a = make(masks, generator_for(0, "x"))
    for _ in range(30):
        arch = a.ask()
        a.tell(arch, table.valid_acc(arch))
    b = make(masks, generator_for(9, "x"))
    b.load_state_dict(a.state_dict())
    for _ in range(10):
        arch = a.ask()
        assert b.ask() == arch
        a.tell(arch, table.valid_acc(arch))
        b.tell(arch, table.valid_acc(arch))


def test_reinforce_learns_a_good_cell():
    table = synthetic_table(0)
    sampler = PolicySampler({"cell": torch.ones(6, 5, dtype=torch.bool)}, generator_for(0, "reinforce"))
    for _ in range(400):
        arch = sampler.ask()
        sampler.tell(arch, table.valid_acc(arch))
    greedy = {"cell": sampler.probabilities()["cell"].argmax(1).tolist()}
    # the policy has settled on one cell per edge, and the cell it prefers is in the table's top 1%
    assert sampler.probabilities()["cell"].max(1).min() > 0.5
    assert (table.metric("valid_acc") < table.valid_acc(greedy)).mean() > 0.99


def _compare(table, seeds, budgets):
    found = {m: curves(search_many(table, m, seeds, queries=max(budgets))) for m in ("rs", "re")}
    return {m: {b: (c["valid_mean"][b - 1], c["test_mean"][b - 1]) for b in budgets} for m, c in found.items()}


def test_evolution_beats_random_search_and_both_approach_the_optimum_on_a_synthetic_table():
    table = synthetic_table(3)
    optimum = table.best().valid_acc
    at = _compare(table, range(30), (20, 100, 400))
    assert at["re"][100][0] > at["rs"][100][0] + 3 and at["re"][400][0] > at["rs"][400][0]
    for method in ("rs", "re"):
        regrets = [optimum - at[method][b][0] for b in (20, 100, 400)]
        assert regrets[0] > regrets[1] > regrets[2] >= 0
    assert optimum - at["re"][400][0] < 0.5 and optimum - at["rs"][400][0] < 10


def test_evolution_beats_random_search_and_both_approach_the_optimum_on_the_real_table(real_table):
    optimum = real_table.best().valid_acc
    equal = _compare(real_table, range(100), (150,))
    assert equal["re"][150][0] > equal["rs"][150][0] + 0.2  # validation, searched on: 91.51 against 91.15
    assert equal["re"][150][1] > equal["rs"][150][1]  # and the test accuracy of the cells they return
    grow = _compare(real_table, range(10), (20, 100, 1000))
    for method in ("rs", "re"):
        regrets = [optimum - grow[method][b][0] for b in (20, 100, 1000)]
        assert regrets[0] > regrets[1] > regrets[2] >= 0
    assert optimum - grow["re"][1000][0] < 0.02 and optimum - grow["rs"][1000][0] < 0.25


# ---- table runs through the runner, the config and the CLI ---------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "tables"
    store_synthetic(folder, seed=4)
    return folder


def _table_cfg(store, **extra):
    return {"space": "nb201", "optimizer": "re", "evaluator": "table", "dataset": "cifar10", "budget": 40, "runs": 3,
            "seed": 5, "device": "cpu", "benchmark_dir": str(store), **extra}


def test_a_table_run_emits_queries_epochs_and_curves_and_resumes_exactly(store, tmp_path):
    cfg = _table_cfg(store)
    outcome = run_search(cfg, tmp_path / "a")
    result = outcome.result
    assert outcome.status == "finished" and result["epochs_completed"] == 3 and result["evaluator"] == "table"
    events = read_events(tmp_path / "a" / "events.jsonl")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and events[0]["epochs"] == 3 and events[0]["steps_per_epoch"] == 40
    assert kinds.count("query") == 120 and kinds.count("epoch") == 3 and kinds.count("genotype") == 3
    assert kinds.count("checkpoint") == 3 and kinds[-1] == "finished"
    queries = [e for e in events if e["type"] == "query"]
    table = load_table("nb201", "cifar10", store)
    for run in (1, 2, 3):
        mine = [q for q in queries if q["run"] == run]
        assert [q["query"] for q in mine] == list(range(1, 41)) and {q["seed"] for q in mine} == {4 + run}
        best = np.maximum.accumulate([q["valid_acc"] for q in mine])
        assert [q["best_valid_acc"] for q in mine] == pytest.approx(best.tolist())
        for q in mine:
            assert q["valid_acc"] == pytest.approx(table.valid_acc(q["genotype"]))
            assert q["test_acc"] == pytest.approx(table.test_acc(q["genotype"]))
            assert q["best_test_acc"] == pytest.approx(table.test_acc(q["best_genotype"]))
    box = result["blackbox"]
    assert [r["seed"] for r in box["runs"]] == [5, 6, 7] and len(box["curves"]["valid_mean"]) == 40
    direct = curves(search_many(table, "re", [5, 6, 7], queries=40))
    assert box["curves"]["valid_mean"] == pytest.approx(direct["valid_mean"])
    assert box["curves"]["test_std"] == pytest.approx(direct["test_std"])
    assert result["genotype"] == max(box["runs"], key=lambda r: r["valid_acc"])["arch"]
    assert result["metrics"]["val_acc"] == pytest.approx(table.valid_acc(result["genotype"]) / 100)
    assert result["benchmark"]["test_acc"] == pytest.approx(table.test_acc(result["genotype"]))
    assert json.loads((tmp_path / "a" / "result.json").read_text())["genotype"] == result["genotype"]
    # stopped in the middle of the second run, then resumed: the same events and the same result
    stop_in_run_two = stop_after(55)
    assert run_search(cfg, tmp_path / "b", stop_check=stop_in_run_two).status == "cancelled"
    resumed = run_search(cfg, tmp_path / "b").result
    assert resumed["blackbox"]["runs"] == box["runs"] and resumed["genotype"] == result["genotype"]
    again = read_events(tmp_path / "b" / "events.jsonl")
    strip = lambda evs: [(e["type"], e.get("genotype"), e.get("valid_acc")) for e in evs  # noqa: E731
                         if e["type"] not in ("run_started", "finished", "log")]
    assert strip(again) == strip(events)


@pytest.mark.parametrize("changes,field,words", [
    ({"optimizer": "darts"}, "evaluator", "black-box method proposes (ls, re, reinforce, rs); darts trains a supernet"),
    ({"space": "darts"}, "evaluator", "only for the nb201 space"),
    ({"dataset": "digits"}, "evaluator", "no results for dataset 'digits'"),
    ({"evaluator": "oracle"}, "evaluator", "choose one of: train, table"),
    ({"budget": 0}, "budget", "positive integer"),
    ({"evaluator": "train", "runs": 3}, "runs", "need the table evaluator"),
    ({"select_samples": 5}, "select_samples", "nothing to retrain"),
    ({"reinforce_lr": -1.0}, "reinforce_lr", "positive number"),
    ({"budget_unit": "minutes"}, "budget_unit", "unknown budget_unit 'minutes'; choose one of: queries, seconds"),
    ({"budget_unit": "seconds", "budget": 2.5}, "budget", "simulated training seconds per seeded run"),
    ({"evaluator": "train", "runs": 1, "budget_unit": "seconds"}, "budget_unit", "needs the table evaluator"),
])
def test_bad_table_settings_are_named(store, changes, field, words):
    with pytest.raises(ConfigError) as exc:
        validate_config(_table_cfg(store, **changes))
    assert words in exc.value.errors[field]


def test_a_table_run_refuses_checkpoints_of_other_runs(store, tmp_path):
    from nascore.runner import SearchFailed

    out = tmp_path / "run"
    run_search(_table_cfg(store, runs=1), out)
    with pytest.raises(SearchFailed, match="another config"):
        run_search(_table_cfg(store, runs=1, seed=6), out)
    trained = tmp_path / "trained"
    run_search({"space": "s3", "dataset": "digits", "epochs": 1, "channels": 4, "layers": 3, "batch_size": 32,
                "steps_per_epoch": 1, "device": "cpu", "curvature_every": 0}, trained)
    with pytest.raises(SearchFailed, match="not by a table search"):
        run_search(_table_cfg(store, runs=1), trained)


def test_a_time_budget_stops_each_run_at_the_query_that_reaches_it_and_resumes_exactly(store, tmp_path):
    budget = 9_000  # the synthetic cells train in 500 to 2,300 simulated seconds: a handful of queries per run
    cfg = _table_cfg(store, budget=budget, budget_unit="seconds", runs=3, optimizer="rs")
    outcome = run_search(cfg, tmp_path / "a")
    events = read_events(tmp_path / "a" / "events.jsonl")
    table = load_table("nb201", "cifar10", store)
    queries = [e for e in events if e["type"] == "query"]
    counts = []
    for run in (1, 2, 3):
        mine = [q for q in queries if q["run"] == run]
        costs = [table.query(q["genotype"]).train_time for q in mine]
        assert [q["cost"] for q in mine] == pytest.approx(costs)
        assert [q["elapsed"] for q in mine] == pytest.approx(np.cumsum(costs).tolist())
        # it stops at the first query that brings the simulated time to the budget, not before, not after
        assert mine[-2]["elapsed"] < budget <= mine[-1]["elapsed"]
        direct = search_table(table, "rs", seed=4 + run, seconds=budget)
        assert [q["genotype"] for q in mine] == [code_arch(c) for c in direct.codes]
        counts.append(len(mine))
    assert events[0]["steps_per_epoch"] == budget  # progress counts simulated seconds
    steps = [e for e in events if e["type"] == "step"]
    assert steps and all(0 < e["step"] <= budget and e["steps_per_epoch"] == budget for e in steps)
    box = outcome.result["blackbox"]
    assert box["budget_unit"] == "seconds" and box["budget"] == budget
    assert [r["queries"] for r in box["runs"]] == counts
    assert all(r["simulated_seconds"] >= budget for r in box["runs"])
    grid = box["curves"]["seconds"]
    assert len(grid) == 100 and grid[-1] == pytest.approx(budget)
    # at the budget, a run's best is the best of the queries finished by then (the last one ends past it)
    at_budget = [max(q["valid_acc"] for q in queries if q["run"] == run and q["elapsed"] <= budget) for run in (1, 2, 3)]
    assert box["curves"]["valid_mean"][-1] == pytest.approx(np.mean(at_budget))
    text = describe_result("finished", outcome.result, tmp_path / "a")
    assert f"3 of 3 seeded runs of {budget:,} simulated training seconds" in text
    # stopped during the second run, then resumed: the same queries and the same result
    stop_in_run_two = stop_after(counts[0] + 2)
    assert run_search(cfg, tmp_path / "b", stop_check=stop_in_run_two).status == "cancelled"
    resumed = run_search(cfg, tmp_path / "b").result
    assert resumed["blackbox"]["runs"] == box["runs"] and resumed["blackbox"]["curves"] == box["curves"]
    again = [(e["run"], e["genotype"], e["elapsed"]) for e in read_events(tmp_path / "b" / "events.jsonl")
             if e["type"] == "query"]
    assert again == [(q["run"], q["genotype"], q["elapsed"]) for q in queries]


def test_the_console_progress_bar_follows_simulated_seconds():
    import io

    from nascore.progress import ConsoleProgress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = ConsoleProgress(2, stream=Terminal())
    for epoch, step in ((1, 1_200), (1, 3_000), (1, 5_000), (2, 800)):
        bar(epoch, step, 5_000, 0.5)
    assert bar.bar.n == 5_000 + 800 and bar.bar.total == 10_000
    bar.close()


def test_a_missing_table_says_how_to_import_one(tmp_path):
    with pytest.raises(ConfigError) as exc:
        validate_config(_table_cfg(tmp_path / "empty"))
    message = exc.value.errors["evaluator"]
    assert "no NAS-Bench-201 table for cifar10" in message and "python -m nascore benchmark import" in message


@pytest.fixture
def keep_sigint():
    """``search`` installs its Ctrl-C handler; give pytest its own back."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


def test_the_cli_imports_queries_and_searches_on_the_table(store, tmp_path, capsys, synthetic_rows, keep_sigint):
    csv_path = write_csv(tmp_path / "bench.csv", synthetic_rows)
    fresh = tmp_path / "fresh-store"
    assert cli_main(["benchmark", "import", str(csv_path), "--store", str(fresh), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["architectures"] == NUM_ARCHS and report["stored"] == str(fresh / "nb201-cifar10.npz")
    assert cli_main(["benchmark", "query", "nb201_all_skip", "--store", str(fresh), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    table = synthetic_table(0)
    assert record["valid_acc"] == pytest.approx(table.valid_acc(ALL_SKIP))
    assert record["test_acc"] == pytest.approx(table.test_acc(ALL_SKIP))
    assert cli_main(["benchmark", "query", "|bad|", "--store", str(fresh)]) == 2
    assert "expected 3 groups" in capsys.readouterr().err
    out = tmp_path / "run"
    code = cli_main(["search", "--space", "nb201", "--optimizer", "re", "--evaluator", "table", "--dataset", "cifar10",
                     "--budget", "30", "--runs", "2", "--benchmark-dir", str(store), "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "2 of 2 seeded runs of 30 queries" in text and "best cell: |" in text
    assert json.loads((out / "result.json").read_text())["blackbox"]["budget"] == 30
    assert cli_main(["search", "--space", "nb201", "--optimizer", "rs", "--evaluator", "table", "--dataset",
                     "cifar10", "--benchmark-dir", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 2
    assert "benchmark import" in capsys.readouterr().err and not (tmp_path / "x").exists()
    timed = tmp_path / "timed"
    assert cli_main(["search", "--space", "nb201", "--optimizer", "ls", "--evaluator", "table", "--dataset", "cifar10",
                     "--budget", "6000", "--budget-unit", "seconds", "--runs", "2", "--benchmark-dir", str(store),
                     "--out", str(timed)]) == 0
    assert "2 of 2 seeded runs of 6,000 simulated training seconds" in capsys.readouterr().out
    assert json.loads((timed / "result.json").read_text())["blackbox"]["budget_unit"] == "seconds"
    assert cli_main(["search", "--space", "nb201", "--optimizer", "ls", "--evaluator", "table", "--dataset", "cifar10",
                     "--budget-unit", "hours", "--benchmark-dir", str(store), "--out", str(tmp_path / "y")]) == 2
    assert "budget_unit: unknown budget_unit 'hours'; choose one of: queries, seconds" in capsys.readouterr().err and not (tmp_path / "y").exists()


# ---- black-box methods with the training evaluator ---------------------------------------------------------------

TRAINED = {"space": "nb201", "dataset": "digits", "epochs": 2, "channels": 4, "layers": 1, "batch_size": 32,
           "steps_per_epoch": 4, "device": "cpu", "seed": 1, "curvature_every": 0, "eval_steps": 2}


@pytest.mark.parametrize("name", ["reinforce", "ls"])
def test_trained_black_box_runs_emit_queries_and_resume_exactly(name, tmp_path):
    cfg = {**TRAINED, "optimizer": name}
    a = run_search(cfg, tmp_path / "a").result
    queries = [e for e in read_events(tmp_path / "a" / "events.jsonl") if e["type"] == "query"]
    assert [q["query"] for q in queries] == [1, 2, 3, 4] and all(q["test_acc"] is None for q in queries)
    assert a["metrics"]["best_val_acc"] is not None
    assert queries[-1]["best_valid_acc"] == max(q["valid_acc"] for q in queries)
    assert queries[-1]["best_genotype"] == a["genotype"]
    stop_in_epoch_two = stop_after(6)
    assert run_search(cfg, tmp_path / "b", stop_check=stop_in_epoch_two).status == "cancelled"
    b = run_search(cfg, tmp_path / "b").result
    assert (a["genotype"], a["alphas"], a["metrics"]) == (b["genotype"], b["alphas"], b["metrics"])
