"""Paper protocols (nascore/protocols.py): named sets of settings applied before the given ones, recorded in the
config, refused with the reason where they do not fit; and NAS-Bench-201's 12-epoch cost per query
(D-X-Y/AutoDL-Projects exps/algos/R_EA.py train_and_eval: ``info["train-all-time"] + info["valid-per-time"]`` of the
``hp="12"`` schedule)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nascore.benchmarks.nb201 import NB201Table
from nascore.benchmarks.search import query_costs, search_table, table_epochs
from nascore.cli import main
from nascore.config import ConfigError, validate_config
from nascore.protocols import PROTOCOLS
from tests.nb201_data import store_synthetic, synthetic_table


def test_each_protocol_cites_its_source_and_sets_only_declared_settings_that_validate():
    from nascore.config import field_names

    names = set(field_names())
    assert {"darts_cifar10", "pcdarts_cifar10", "gdas_cifar10", "nb201_darts", "nb201_gdas", "robustdarts_es",
            "nb201_blackbox"} <= set(PROTOCOLS)
    for p in PROTOCOLS.values():
        assert set(p.values) <= names and set(p.fits) <= names, p.name
        assert "," in p.source and ("section" in p.source), p.name  # a paper section and a reference file
        if p.name != "nb201_blackbox":  # needs an imported 12-epoch table
            cfg = validate_config({"protocol": p.name, "device": "cpu"}).to_dict()
            assert cfg["protocol"] == p.name and all(cfg[k] == v for k, v in p.values.items())


def test_the_papers_values():
    darts = validate_config({"protocol": "darts_cifar10", "device": "cpu"})
    assert (darts.epochs, darts.batch_size, darts.channels, darts.layers, darts.w_lr, darts.alpha_lr) == (
        50, 64, 16, 8, 0.025, 3e-4)
    pc = validate_config({"protocol": "pcdarts_cifar10", "device": "cpu"})
    assert (pc.batch_size, pc.w_lr, pc.alpha_lr, pc.warmup_epochs, pc.pc_k) == (256, 0.1, 6e-4, 15, 4)
    nb = validate_config({"protocol": "nb201_darts", "device": "cpu"})
    assert (nb.space, nb.epochs, nb.w_weight_decay, nb.w_nesterov, nb.layers) == ("nb201", 50, 5e-4, True, 5)
    assert validate_config({"protocol": "nb201_gdas", "device": "cpu"}).epochs == 240
    assert PROTOCOLS["nb201_blackbox"].values["population_size"] == 10
    assert PROTOCOLS["nb201_blackbox"].values["budget"] == 12000


def test_given_settings_override_the_protocol_and_no_protocol_changes_nothing():
    cfg = validate_config({"protocol": "darts_cifar10", "epochs": 3, "dataset": "digits", "search_augment": "none",
                           "device": "cpu"})
    assert cfg.epochs == 3 and cfg.dataset == "digits" and cfg.batch_size == 64 and cfg.channels == 16
    plain = validate_config({"device": "cpu"}).to_dict()
    assert plain["protocol"] is None and plain["w_nesterov"] is False and plain["query_cost"] == "table"


def test_unknown_and_unfitting_protocols_are_refused_with_the_reason():
    with pytest.raises(ConfigError) as err:
        validate_config({"protocol": "darts"})
    assert "unknown protocol 'darts'" in err.value.errors["protocol"] and "darts_cifar10" in err.value.errors["protocol"]
    with pytest.raises(ConfigError) as err:
        validate_config({"protocol": "darts_cifar10", "space": "nb201", "device": "cpu"})
    assert err.value.errors["protocol"].startswith("the darts_cifar10 protocol") and "space 'darts'" in \
        err.value.errors["protocol"] and "not 'nb201'" in err.value.errors["protocol"]
    with pytest.raises(ConfigError) as err:
        validate_config({"protocol": "pcdarts_cifar10", "optimizer": "darts", "device": "cpu"})
    assert "optimizer 'pcdarts'" in err.value.errors["protocol"]


def test_the_blackbox_protocol_needs_the_12_epoch_figures(tmp_path):
    store = tmp_path / "store"
    store_synthetic(store)  # no schedule recorded: the CSV layout's 200 epochs
    with pytest.raises(ConfigError) as err:
        validate_config({"protocol": "nb201_blackbox", "benchmark_dir": str(store)})
    message = err.value.errors["protocol"]
    assert "12-epoch validation accuracy" in message and "holds the 200-epoch figures" in message
    assert "--epochs 12" in message and "query_cost 12_epochs" in message
    twelve = synthetic_table()
    NB201Table("cifar10", twelve.arrays, {**twelve.meta, "epochs": 12}).save(store / "nb201-cifar10.npz")
    cfg = validate_config({"protocol": "nb201_blackbox", "benchmark_dir": str(store), "runs": 2})
    assert (cfg.optimizer, cfg.budget, cfg.budget_unit, cfg.query_cost, cfg.population_size) == (
        "re", 12000, "seconds", "12_epochs", 10)
    with pytest.raises(ConfigError) as err:
        validate_config({"protocol": "nb201_blackbox", "benchmark_dir": str(store), "optimizer": "darts"})
    assert "optimizer 're' or 'rs' or 'reinforce'" in err.value.errors["protocol"]


def test_the_12_epoch_query_cost():
    table = synthetic_table()
    assert table_epochs(table) == 200
    np.testing.assert_allclose(query_costs(table, "12_epochs"),
                               table.metric("train_time") * 12 / 200 + table.metric("valid_epoch_time"))
    np.testing.assert_array_equal(query_costs(table, "table"), table.metric("train_time"))
    twelve = NB201Table("cifar10", table.arrays, {"epochs": 12})
    np.testing.assert_allclose(query_costs(twelve, "12_epochs"),
                               table.metric("train_time") + table.metric("valid_epoch_time"))
    slow = search_table(table, "rs", 0, seconds=12000)
    fast = search_table(table, "rs", 0, seconds=12000, query_cost="12_epochs")
    assert len(fast) > 10 * len(slow)  # the paper's cost affords many more queries in the same budget
    assert list(fast.codes[:len(slow)]) == list(slow.codes)  # the same seeded proposals, priced differently
    with pytest.raises(ConfigError) as err:
        validate_config({"query_cost": "12_epochs", "device": "cpu"})
    assert "table search" in err.value.errors["query_cost"]


def test_cli_search_protocol_and_protocols_listing(tmp_path, capsys):
    assert main(["protocols", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["pcdarts_cifar10"]["values"]["warmup_epochs"] == 15 and "PC-DARTS" in listed["pcdarts_cifar10"]["source"]
    assert main(["protocols"]) == 0 and "nb201_blackbox:" in capsys.readouterr().out
    assert main(["search", "--protocol", "darts_cifar10", "--space", "nb201"]) == 2
    assert "choose space 'darts', or no protocol" in capsys.readouterr().err
    out = tmp_path / "run"
    code = main(["search", "--protocol", "darts_cifar10", "--dataset", "digits", "--search-augment", "crop",
                 "--space", "darts", "--epochs", "1", "--channels", "4", "--layers", "3", "--steps-per-epoch", "2",
                 "--batch-size", "16", "--device", "cpu", "--curvature-every", "0", "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["protocol"] == "darts_cifar10" and result["config"]["w_lr"] == 0.025
    assert result["config"]["channels"] == 4 and result["config"]["search_augment"] == "crop"
