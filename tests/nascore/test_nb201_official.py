"""The official NAS-Bench-201 files (.pth, NATS-Bench .pickle.pbz2 and the -simple folder): read back into the
same table as the CSV layout, the right evaluation set for validation and for test, the chosen schedule,
every problem named, and no code from the file ever run."""
import json
import os
import pickle

import numpy as np
import pytest
import torch

from nascore.benchmarks import import_table, stored_file
from nascore.benchmarks.nb201 import (
    METRICS,
    NUM_ARCHS,
    BenchmarkError,
    code_arch,
    import_csv,
)
from nascore.benchmarks.nb201_official import (
    SETTINGS,
    arch_figures,
    import_official,
    import_results,
    open_official,
)
from nascore.cli import main as cli_main
from nascore.spaces.nb201 import PUBLISHED
from tests.nb201_data import csv_rows, require_real_csv, synthetic_table, write_csv
from tests.nb201_official_data import (
    EPOCHS,
    SEEDS,
    arch_results,
    benchmark_dict,
    index_order,
    write_pbz2,
    write_pth,
    write_simple_folder,
)

TOTALS = ("train_time", "valid_time", "test_time")


def expected(table, name):
    """What the importer must give for ``name``: the table's figure; totals are per-epoch times x epochs."""
    return table.metric(name.replace("_time", "_epoch_time")) * EPOCHS if name in TOTALS else table.metric(name)


def assert_same_table(got, table):
    for name in METRICS:
        np.testing.assert_allclose(got.metric(name), expected(table, name), rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.fixture(scope="module")
def tables():
    return synthetic_table(0), synthetic_table(1)


@pytest.fixture(scope="module")
def official(tables):
    return benchmark_dict(*tables)


@pytest.mark.parametrize("layout", ["pth-zip", "pth-legacy", "pickle.pbz2"])
def test_each_whole_file_layout_reads_back_the_table(layout, official, tables, tmp_path):
    if layout == "pth-zip":
        path = write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", official)
    elif layout == "pth-legacy":
        path = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
        torch.save(official, path, _use_new_zipfile_serialization=False)
    else:
        nats = {**official, "arch2infos": {i: {"200": e["full"], "12": e["less"]}
                                           for i, e in official["arch2infos"].items()}}
        path = write_pbz2(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", nats)
    table, decoy = tables
    got = import_official(path, "cifar10")
    assert_same_table(got, table)
    assert got.meta["epochs"] == 200 and got.meta["rows"] == NUM_ARCHS
    assert (got.meta["setting"], got.meta["valid_set"], got.meta["test_set"]) == ("cifar10-valid", "x-valid", "ori-test")
    assert_same_table(import_official(path, "cifar10", epochs="12"), decoy)


def test_weights_in_a_torch_file_are_skipped_not_rebuilt(tables, tmp_path):
    table, decoy = tables
    data = benchmark_dict(table, decoy, evaluated=3)
    weights = {"cells.0.conv.weight": torch.randn(4, 4, 3, 3), "bn.running_mean": torch.zeros(4)}
    data["arch2infos"][0]["full"]["all_results"][("cifar10-valid", SEEDS[0])]["net_state_dict"] = weights
    for legacy in (False, True):
        path = tmp_path / f"weights-{legacy}.pth"
        torch.save(data, path, _use_new_zipfile_serialization=not legacy)
        source = open_official(path)
        results = source.entry(0)["full"]
        assert arch_figures(results, SETTINGS["cifar10"])["valid_acc"] == pytest.approx(
            table.valid_acc(source.meta_archs[0]))
        assert source.entry(3) is None and len(source.meta_archs) == NUM_ARCHS


def test_validation_and_test_come_from_their_own_evaluation_sets(tables):
    """cifar10 (the cifar10-valid setting): x-valid and ori-test; cifar100: x-valid and x-test, never its
    ori-test (validation and test images together), never another setting, never an earlier epoch."""
    table, decoy = tables
    for dataset in ("cifar10", "cifar100"):
        for code in (0, 1234, NUM_ARCHS - 1, 8000):
            figures = arch_figures(arch_results(table, code, dataset, decoy), SETTINGS[dataset])
            assert figures["valid_acc"] == pytest.approx(table.valid_acc(code))
            assert figures["test_acc"] == pytest.approx(table.test_acc(code))
            assert figures["test_acc"] != pytest.approx(figures["valid_acc"])
            assert figures["train_loss"] == pytest.approx(table.value(code, "train_loss"))
            assert figures["test_epoch_time"] == pytest.approx(table.value(code, "test_epoch_time"))
            assert figures["test_time"] == pytest.approx(table.value(code, "test_epoch_time") * EPOCHS)


def test_the_simple_folder_reads_each_architecture_from_its_file(tables, tmp_path):
    table, decoy = tables
    data = benchmark_dict(table, decoy, evaluated=4)
    folder = write_simple_folder(tmp_path / "NATS-tss-v1_0-3ffb9-simple",
                                 {**data, "arch2infos": {i: {"200": e["full"], "12": e["less"]}
                                                         for i, e in data["arch2infos"].items()}})
    source = open_official(folder)
    assert source.format == "nats-simple" and source.meta_archs[:4] == [code_arch(c) for c in index_order()[:4]]
    for index in range(4):
        figures = arch_figures(source.entry(index)["200"], SETTINGS["cifar10"])
        assert figures["valid_acc"] == pytest.approx(table.valid_acc(source.meta_archs[index]))
    store = tmp_path / "store"
    with pytest.raises(BenchmarkError) as exc:
        import_table(folder, "nb201", "cifar10", store)
    message = str(exc.value)
    assert f"{NUM_ARCHS - 4} problems" in message and "architecture #4: |" in message
    assert "has no results (not among the evaluated architectures)" in message and "... and" in message
    assert not stored_file("nb201", "cifar10", store).exists()
    (folder / "meta.pickle.pbz2").unlink()
    with pytest.raises(BenchmarkError, match="this one has no meta.pickle.pbz2"):
        import_official(folder)


def test_the_real_table_survives_the_official_layout(tmp_path):
    """The benchmark's own figures, written in the .pth layout and read back, give the paper's numbers."""
    real = import_csv(require_real_csv())
    path = write_pth(tmp_path / "real.pth", benchmark_dict(real, synthetic_table(1)))
    got = import_official(path)
    assert_same_table(got, real)
    best = got.best("valid_acc")
    assert best.valid_acc == pytest.approx(91.607, abs=5e-3)
    assert got.valid_acc(PUBLISHED["nb201_all_skip"]) == pytest.approx(39.77, abs=5e-3)


# ---- bad files: every problem named, nothing stored, no code run ------------------------------------------

class RunsCode:
    """A pickled object that would create a file if it were ever unpickled with its callable."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("suffix", [".pth", ".pickle.pbz2"])
def test_a_file_that_would_run_code_is_refused_by_name(suffix, tmp_path):
    marker = tmp_path / "ran"
    data = {"meta_archs": [code_arch(0)], "arch2infos": {0: RunsCode(marker)}, "evaluated_indexes": [0]}
    path = write_pth(tmp_path / f"evil{suffix}", data) if suffix == ".pth" else write_pbz2(tmp_path / f"evil{suffix}", data)
    store = tmp_path / "store"
    with pytest.raises(BenchmarkError) as exc:
        import_table(path, "nb201", "cifar10", store)
    assert "posix.system" in str(exc.value) and "could run code" in str(exc.value)
    assert not marker.exists() and not store.exists()


def test_problems_in_the_results_are_named_by_architecture(official, tables, tmp_path):
    table, decoy = tables
    codes = index_order()
    infos = dict(official["arch2infos"])  # fresh entries where this test breaks them; the rest shared
    for index in (2, 5, 7, 9, 11):
        infos[index] = {"full": arch_results(table, codes[index], "cifar10", decoy),
                        "less": arch_results(decoy, codes[index], "cifar10", decoy)}
    data = {**official, "arch2infos": infos}
    del infos[2]["full"]["all_results"][("cifar10-valid", SEEDS[1])]["train_times"][0]
    infos[5]["full"]["all_results"][("cifar10-valid", SEEDS[0])]["eval_acc1es"][f"x-valid@{EPOCHS - 1}"] = 140.0
    del infos[7]["full"]["all_results"][("cifar10-valid", SEEDS[0])]["eval_losses"][f"ori-test@{EPOCHS - 1}"]
    infos[9] = {"less": infos[9]["less"]}
    infos[11]["full"]["arch_str"] = code_arch(index_order()[12])
    path = write_pth(tmp_path / "broken.pth", data)
    store = tmp_path / "store"
    with pytest.raises(BenchmarkError) as exc:
        import_table(path, "nb201", "cifar10", store)
    message = str(exc.value)
    archs = data["meta_archs"]
    assert "5 problems" in message
    assert f"architecture #2: {archs[2]}: seed {SEEDS[1]}: no training times for 0" in message
    assert (f"architecture #5: {archs[5]}: seed {SEEDS[0]}: validation accuracy (%) 140.0 is out of range "
            "(accuracy must be [0, 100])") in message
    assert f"architecture #7: {archs[7]}: seed {SEEDS[0]}: no ori-test@{EPOCHS - 1} loss" in message
    assert f"architecture #9: {archs[9]}: no results for the 200-epoch schedule (it has 12)" in message
    assert f"architecture #11: {archs[11]}: its results are for {archs[12]}, but meta_archs names {archs[11]}" in message
    assert not store.exists()
    with pytest.raises(BenchmarkError, match=r"no results for ImageNet16-120 \(it has cifar10-valid, cifar10\)"):
        import_official(path, "imagenet16-120")


@pytest.mark.parametrize("content,words", [
    (b"not a pickle at all", "not a readable torch.save file"),
    (None, "lacks arch2infos"),
    ("list", "holds a list, not the benchmark's dict"),
])
def test_files_that_are_not_the_benchmark_are_named(content, words, tmp_path):
    path = tmp_path / "bad.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "list":
        torch.save([1, 2], path)
    else:
        torch.save({"meta_archs": [code_arch(0)]}, path)
    with pytest.raises(BenchmarkError, match=words):
        import_official(path)


def test_the_import_picks_the_reader_by_the_path_and_refuses_mismatched_options(tmp_path, tables):
    csv_path = write_csv(tmp_path / "bench.csv", csv_rows(tables[0]))
    assert import_results(csv_path).meta["format"] == "csv"
    with pytest.raises(BenchmarkError, match="--epochs picks a schedule inside the official files"):
        import_results(csv_path, epochs="12")
    with pytest.raises(BenchmarkError, match="trained each cell for 200 or 12 epochs, not 90"):
        import_official(tmp_path / "x.pth", epochs="90")
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-201 file nascore knows"):
        import_official(tmp_path / "results.json")
    with pytest.raises(BenchmarkError, match="no such file or folder"):
        import_official(tmp_path / "missing.pth")


def test_the_cli_imports_an_official_file(official, tables, tmp_path, capsys):
    path = write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", official)
    store = tmp_path / "store"
    assert cli_main(["benchmark", "import", str(path), "--store", str(store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "nas-bench-201-pth" and report["epochs"] == 200
    assert report["architectures"] == NUM_ARCHS and report["stored"] == str(store / "nb201-cifar10.npz")
    assert report["best_valid"]["valid_acc"] == pytest.approx(tables[0].best().valid_acc)
    assert cli_main(["benchmark", "info", "--store", str(store)]) == 0
    assert "nas-bench-201-pth, 200 epochs" in capsys.readouterr().out
    assert cli_main(["benchmark", "query", "nb201_best", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "validation = x-valid, test = ori-test" in out
    assert f"{tables[0].test_acc(PUBLISHED['nb201_best']):.4f}" in out
    assert cli_main(["benchmark", "import", str(path), "--store", str(store), "--dataset", "cifar100"]) == 2
    err = capsys.readouterr().err
    assert "no results for cifar100 (it has cifar10-valid, cifar10)" in err
    assert not stored_file("nb201", "cifar100", store).exists()


def test_a_whole_file_too_big_for_this_machine_is_refused_before_reading(tables, tmp_path, monkeypatch):
    from nascore.benchmarks import nb201_official

    data = benchmark_dict(*tables, evaluated=20)
    pth = write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", data)
    pbz2 = write_pbz2(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", data)
    store = tmp_path / "store"
    for path, content in ((pth, pth.stat().st_size), (pbz2, len(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)))):
        # room for the file's content but not for its objects: refused; room for the objects: read
        monkeypatch.setattr(nb201_official, "available_memory", lambda: 2 * content)
        with pytest.raises(BenchmarkError) as exc:
            import_table(path, "nb201", "cifar10", store)
        assert "GB of memory" in str(exc.value) and "NATS-tss-v1_0-3ffb9-simple" in str(exc.value)
        assert not store.exists()
        monkeypatch.setattr(nb201_official, "available_memory", lambda: 6 * content)
        with pytest.raises(BenchmarkError, match="has no results"):  # read, then refused for the 15,605 missing
            import_table(path, "nb201", "cifar10", store)


def test_the_import_reports_its_progress_over_the_architectures(tables, tmp_path):
    path = write_pth(tmp_path / "results.pth", benchmark_dict(*tables, evaluated=20))
    calls = []
    with pytest.raises(BenchmarkError, match="has no results"):  # only 20 cells evaluated: every one is still read
        import_table(path, "nb201", "cifar10", tmp_path / "store",
                     progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, NUM_ARCHS) and calls[-1] == (NUM_ARCHS, NUM_ARCHS)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and len(calls) == NUM_ARCHS + 1
