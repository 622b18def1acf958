"""Hyperparameter studies (nascore.hpo): Auto-PyTorch Tabular's conditional space, its networks (shaped widths,
shake-shake and shake-drop as their papers define them), deterministic training, studies that repeat with a seed,
Hyperband's saved epochs, baselines, and the CLI's validation."""
import csv
import json

import numpy as np
import optuna
import pytest
import torch

from nascore.cli import main
from nascore.config import ConfigError
from nascore.hpo.study import run_study, validate_study
from nascore.hpo.tabular import baselines, train_configuration
from nascore.hpo.tabular_data import load_split
from nascore.hpo.tabular_models import ResBlock, ShapedMLP, ShapedResNet, _ShakeDrop, _ShakeShake, funnel
from nascore.hpo.tabular_space import suggest
from nascore.userdata import DataError

MLP = {"network": "mlp", "mlp_layers": 3, "mlp_max_units": 64, "mlp_max_dropout": 0.3, "batch_size": 32,
       "optimizer": "sgd", "lr": 0.01, "l2": 1e-4, "momentum": 0.9, "training": "standard", "preprocessing": "none"}


# ---- the space ----------------------------------------------------------------------------------------------------
def test_conditional_parameters_are_asked_only_under_their_parent():
    mlp = suggest(optuna.trial.FixedTrial(MLP), num_features=30)
    assert mlp == {"network": "mlp", "layers": 3, "max_units": 64, "max_dropout": 0.3, "batch_size": 32,
                   "optimizer": "sgd", "lr": 0.01, "l2": 1e-4, "momentum": 0.9, "training": "standard",
                   "preprocessing": "none"}
    resnet = {"network": "resnet", "resnet_groups": 2, "resnet_blocks_per_group": 1, "resnet_max_units": 40,
              "resnet_use_dropout": False, "resnet_use_shake_drop": True, "resnet_max_shake_drop": 0.5,
              "resnet_use_shake_shake": True, "batch_size": 64, "optimizer": "adam", "lr": 0.001, "l2": 1e-5,
              "training": "mixup", "mixup_alpha": 0.2, "preprocessing": "truncated_svd", "svd_dim": 12}
    params = suggest(optuna.trial.FixedTrial(resnet), num_features=30)
    assert "momentum" not in params and "max_dropout" not in params and "layers" not in params
    assert params["max_shake_drop"] == 0.5 and params["mixup_alpha"] == 0.2 and params["svd_dim"] == 12


def test_a_study_records_only_the_parameters_its_trials_used():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        params = suggest(trial, num_features=13)
        assert ("momentum" in trial.params) == (params["optimizer"] == "sgd")
        assert ("mlp_layers" in trial.params) == (params["network"] == "mlp")
        assert ("svd_dim" in trial.params) == (params["preprocessing"] == "truncated_svd")
        assert trial.params.get("svd_dim", 10) <= 12  # the SVD reduces: below the table's 13 features
        assert 16 <= trial.params["batch_size"] <= 512 and 1e-4 <= trial.params["lr"] <= 1e-1
        study.tell(trial, 0.5)


# ---- the networks ---------------------------------------------------------------------------------------------------
def test_shaped_mlp_funnels_its_widths_and_counts_its_parameters():
    assert funnel(64, 4, 3) == [64, 44, 24]
    net = ShapedMLP(in_features=10, num_classes=4, layers=3, max_units=64, max_dropout=0.3)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [64, 44, 24, 4]
    expected = (10 * 64 + 64) + (64 * 44 + 44) + (44 * 24 + 24) + (24 * 4 + 4)
    assert sum(p.numel() for p in net.parameters()) == expected
    drops = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == pytest.approx([0.3, 0.2, 0.1])


def test_shake_shake_mixes_forward_and_backward_with_independent_convex_weights():
    a = torch.ones(64, 3, requires_grad=True)
    b = torch.zeros(64, 3, requires_grad=True)
    out = _ShakeShake.apply(a, b)
    forward_alpha = out[:, 0].detach()
    assert ((forward_alpha >= 0) & (forward_alpha <= 1)).all() and (out.detach() == forward_alpha[:, None]).all()
    out.sum().backward()
    assert torch.allclose(a.grad + b.grad, torch.ones_like(a.grad))  # beta + (1 - beta)
    assert not torch.allclose(a.grad[:, 0], forward_alpha)  # a new draw backward
    block = ResBlock(3, 3, 0.0, 0.0, shake_shake=True).eval()
    x = torch.randn(5, 3)
    assert torch.allclose(block(x), x + 0.5 * (block.a(x) + block.b(x)))  # the expectation at evaluation


def test_shake_drop_gates_forward_in_minus_one_one_and_backward_in_zero_one():
    torch.manual_seed(0)
    x = torch.ones(2000, 1, requires_grad=True)
    out = _ShakeDrop.apply(x, 0.0)  # never kept: the gate is alpha forward, beta backward
    assert out.min() >= -1 and out.max() <= 1 and out.min() < -0.5
    out.sum().backward()
    assert x.grad.min() >= 0 and x.grad.max() <= 1
    kept = torch.ones(10, 1, requires_grad=True)
    _ShakeDrop.apply(kept, 1.0).sum().backward()  # always kept: the identity both ways
    assert torch.allclose(kept.grad, torch.ones_like(kept.grad))
    net = ShapedResNet(5, 3, groups=2, blocks_per_group=2, max_units=16, max_shake_drop=0.4).eval()
    assert [b.shake_drop for b in net.blocks] == pytest.approx([0.1, 0.2, 0.3, 0.4])  # rising with depth
    block = net.blocks[3]
    h = torch.randn(4, block.a[0].num_features)
    assert torch.allclose(block(h), block.shortcut(h) + 0.6 * block.a(h))


# ---- training and studies --------------------------------------------------------------------------------------------
def test_training_a_configuration_is_deterministic_and_learns():
    split = load_split("breast_cancer")
    params = suggest(optuna.trial.FixedTrial({**MLP, "optimizer": "adam", "lr": 0.003}), split.num_features)
    first = train_configuration(params, split, max_epochs=5, seed=3)
    again = train_configuration(params, split, max_epochs=5, seed=3)
    assert first.curve == again.curve and len(first.curve) == 5
    assert first.value > 0.85  # the majority class is 63%
    stopped = train_configuration(params, split, max_epochs=5, seed=3, after_epoch=lambda e, acc: e == 2)
    assert stopped.curve == first.curve[:2]  # a pruned trial is the beginning of the full one


def test_the_split_is_fixed_stratified_and_disjoint():
    a, b = load_split("wine"), load_split("wine")
    assert (a.x_val == b.x_val).all() and len(a.y_train) + len(a.y_val) + len(a.y_test) == 178
    assert sorted(set(a.y_test.tolist())) == [0, 1, 2]
    with pytest.raises(DataError, match="unknown tabular dataset 'iris'"):
        load_split("iris")


def test_a_seeded_study_repeats_and_hyperband_saves_epochs(tmp_path):
    settings = {"dataset": "wine", "trials": 8, "min_epochs": 1, "max_epochs": 9, "seed": 4}
    first = run_study(settings, tmp_path / "a")
    again = run_study(settings, tmp_path / "b")
    assert [t["params"] for t in first["trials"]] == [t["params"] for t in again["trials"]]
    assert [t["curve"] for t in first["trials"]] == [t["curve"] for t in again["trials"]]
    assert first["states"]["pruned"] > 0 and first["epochs"] < 8 * 9
    unpruned = run_study({**settings, "pruner": "none"}, tmp_path / "c")
    assert unpruned["states"] == {"complete": 8, "pruned": 0, "failed": 0} and unpruned["epochs"] == 8 * 9
    written = json.loads((tmp_path / "a" / "result.json").read_text())
    assert written["best_value"] == max(t["value"] for t in written["trials"] if t["state"] == "complete")
    assert set(written["baselines"]) == {"hist_gradient_boosting", "random_forest"}
    for trial in written["trials"]:
        assert trial["epochs"] == len(trial["curve"]) and trial["state"] in ("complete", "pruned", "failed")


def test_baselines_score_the_same_split():
    figures = baselines(load_split("breast_cancer"), seed=0)
    assert all(0.85 < f["val_acc"] <= 1 and 0.85 < f["test_acc"] <= 1 for f in figures.values())


def test_a_study_on_a_users_csv_table(tmp_path):
    rows = [{"a": i % 7, "b": (i * 3) % 11, "label": "yes" if i % 7 > 3 else "no"} for i in range(120)]
    with open(tmp_path / "toy.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["a", "b", "label"])
        writer.writeheader()
        writer.writerows(rows)
    result = run_study({"dataset": "csv:toy", "data_dir": str(tmp_path), "target": "label", "trials": 3,
                        "max_epochs": 3, "pruner": "none"})
    assert result["best_value"] is not None and result["dataset"] == "csv:toy"


# ---- settings and the command line -----------------------------------------------------------------------------------
def test_every_bad_setting_is_named():
    with pytest.raises(ConfigError) as info:
        validate_study({"trials": 0, "sampler": "tp", "pruner": "hyperbnd", "min_epochs": 5, "max_epochs": 2,
                        "dataset": "wines", "problem": "jont"})
    errors = info.value.errors
    assert set(errors) == {"trials", "sampler", "pruner", "min_epochs", "dataset", "problem"}
    assert "did you mean 'tpe'" in errors["sampler"] and "did you mean 'wine'" in errors["dataset"]
    assert "did you mean 'joint'" in errors["problem"]


def test_the_cli_writes_result_json_or_names_every_problem_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["hpo", "--dataset", "wine", "--trials", "0", "--sampler", "tp", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "trials" in err and "sampler" in err and not out.exists()
    out = tmp_path / "good"
    assert main(["hpo", "--dataset", "wine", "--trials", "3", "--max-epochs", "3", "--sampler", "random",
                 "--pruner", "median", "--seed", "1", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads((out / "result.json").read_text())
    assert result["settings"]["sampler"] == "random" and len(result["trials"]) == 3


def test_bench_reports_studies_with_and_without_pruning(capsys):
    assert main(["bench", "--hpo", "--hpo-datasets", "wine", "--hpo-seeds", "2", "--hpo-trials", "3",
                 "--hpo-min-epochs", "1", "--hpo-max-epochs", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["datasets"]["wine"]
    assert len(report["runs"]) == 2 and report["summary"]["none"]["epochs"]["mean"] == 3 * 3
    assert report["summary"]["hyperband"]["epochs"]["mean"] <= 3 * 3
    assert set(report["summary"]["baselines"]) == {"hist_gradient_boosting", "random_forest"}


# ---- HPO of a search's settings ---------------------------------------------------------------------------------------
SEARCH = {"space": "s3", "dataset": "digits", "optimizer": "darts", "channels": 4, "layers": 3, "batch_size": 32,
          "steps_per_epoch": 3, "device": "cpu", "curvature_every": 0, "select_samples": 0, "derive_samples": 2}


def test_a_study_tunes_a_searchs_settings_with_epochs_as_the_fidelity(tmp_path):
    (tmp_path / "search.json").write_text(json.dumps(SEARCH))
    settings = {"problem": "config", "config": str(tmp_path / "search.json"), "trials": 4, "min_epochs": 1,
                "max_epochs": 3, "seed": 2, "param": ["w_lr=0.005:0.2:log", "optimizer=darts,gdas"]}
    result = run_study(settings, tmp_path / "study")
    assert result["dataset"] == "digits" and len(result["trials"]) == 4
    for trial in result["trials"]:
        assert set(trial["params"]) == {"w_lr", "optimizer"} and 0.005 <= trial["params"]["w_lr"] <= 0.2
        assert 1 <= trial["epochs"] <= 3 and all(0 <= v <= 1 for v in trial["curve"])
    assert result["best_value"] == max(t["value"] for t in result["trials"] if t["state"] == "complete")
    assert (tmp_path / "study" / "trial-0" / "events.jsonl").is_file()  # each trial a search of its own


def test_ranges_over_a_searchs_settings_are_checked_by_place(tmp_path):
    (tmp_path / "search.json").write_text(json.dumps(SEARCH))
    with pytest.raises(ConfigError) as info:
        validate_study({"problem": "config", "config": str(tmp_path / "search.json"),
                        "param": ["w_lr=0.1", "w_lrr=0.1:0.2", "w_lr=-1:0.2", "alpha_lr=0:1:log", "space=darts,darts",
                                  "epochs=3:2"]})
    errors = info.value.errors
    assert "write NAME=LOW:HIGH" in errors["param[0]"]
    assert "did you mean 'w_lr'" in errors["param[1]"]
    assert "w_lr must be" in errors["param[2]"]  # the setting's own bound
    assert "log scale needs a low end above 0" in errors["param[3]"]
    assert "two or more distinct choices" in errors["param[4]"]
    assert "low end must be below" in errors["param[5]"]
    with pytest.raises(ConfigError) as info:
        validate_study({"problem": "tabular", "param": ["w_lr=0.1:0.2"]})
    assert "belongs to problem config" in info.value.errors["param"]


# ---- Auto-PyTorch's ensemble ----------------------------------------------------------------------------------------
def test_greedy_selection_picks_with_replacement_the_member_that_helps_most():
    from nascore.hpo.ensemble import greedy_selection

    y = np.array([0, 0, 1, 1])
    right = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])  # all four right
    wrong_half = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]])  # two of four
    counts = greedy_selection([wrong_half, right], y, rounds=5)
    assert counts == [0, 1]  # the right member alone; adding more of it changes nothing, so the shortest is kept
    # two members each right where the other is wrong, more confident where right: together they beat either alone
    a = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.1, 0.9]])  # wrong on row 2
    b = np.array([[0.6, 0.4], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]])  # wrong on row 1
    counts = greedy_selection([a, b], y, rounds=4)
    # all right with both; of the nested ensembles [a], [a, b], [a, b, a], [a, b, a, a], the last has the lowest log
    # loss (0.299 against 0.314 for [a, b]) at the same accuracy
    assert counts == [3, 1]
    mean = (3 * a + b) / 4
    assert (mean.argmax(1) == y).all() and (a.argmax(1) == y).mean() == 0.75 and (b.argmax(1) == y).mean() == 0.75


def test_the_ensemble_retrains_its_members_exactly_and_is_at_least_as_good_on_validation(tmp_path):
    result = run_study({"dataset": "wine", "trials": 6, "min_epochs": 1, "max_epochs": 4, "pruner": "none",
                        "sampler": "random", "seed": 3, "ensemble": 3}, tmp_path)
    ensemble = result["ensemble"]
    by_number = {t["number"]: t for t in result["trials"]}
    assert ensemble["candidates"] == 3 and abs(sum(m["weight"] for m in ensemble["members"]) - 1) < 1e-3
    for member in ensemble["members"]:  # each member retrained from its seed reproduces its trial
        assert member["val_acc"] == by_number[member["trial"]]["value"]
    assert ensemble["val_acc"] >= result["best_value"]  # greedy selection starts from the best member
    assert 0 <= ensemble["test_acc"] <= 1
    assert json.loads((tmp_path / "result.json").read_text())["ensemble"] == ensemble


def test_ensemble_belongs_to_tabular_studies():
    with pytest.raises(ConfigError) as exc:
        validate_study({"problem": "joint", "space": "nb201", "ensemble": 3})
    assert "ensemble belongs to problem tabular, not joint" in exc.value.errors["ensemble"]
