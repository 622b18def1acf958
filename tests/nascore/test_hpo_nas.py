"""hpo --problem retrain (NAS then HPO: a genotype's stand-alone training tuned) and --problem joint (a cell space's
architecture and its training in one study), and cutout, the stand-alone training augmentation they tune."""
from __future__ import annotations

import json
import random

import pytest
import torch

import nascore.data
from nascore.cli import main
from nascore.config import ConfigError
from nascore.data import cutout
from nascore.evaluation.train import StandaloneTrainingSettings, validate_eval_config
from nascore.hpo.nas_problems import genotype_from_params, params_of_genotype
from nascore.hpo.study import run_study, validate_study
from nascore.spaces import get_space

TRAINING = set(StandaloneTrainingSettings.model_fields)
TINY = {"channels": 4, "trials": 3, "min_epochs": 1, "max_epochs": 2, "steps_per_epoch": 2, "device": "cpu",
        "seed": 1}


def _study(problem: str, space: str, **more):
    return run_study({"problem": problem, "space": space, **TINY, **more})


def _sampled(space_name: str, seed: int):
    space = get_space(space_name)
    return space.genotype_of_path(space.architecture_rule().sample(torch.Generator().manual_seed(seed)))


# ---- cutout (DARTS's code, quark0/darts cnn/utils.py) ------------------------------------------------------------
def _zero_boxes(out: torch.Tensor) -> list[tuple[int, int, int]]:
    """Per image: (zeros, height, width) of the bounding box of its zeroed pixels (same on every channel)."""
    boxes = []
    for image in out:
        zero = image[0] == 0
        assert torch.equal(zero, (image == 0).all(0)), "cutout zeroes every channel alike"
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        h = int(rows.max() - rows.min() + 1) if len(rows) else 0
        w = int(cols.max() - cols.min() + 1) if len(cols) else 0
        boxes.append((int(zero.sum()), h, w))
    return boxes


def test_cutout_zeroes_one_square_clipped_at_the_borders():
    x = torch.rand(200, 3, 16, 16) + 0.5  # no zero of its own
    out = cutout(x, 6, torch.Generator().manual_seed(0))
    boxes = _zero_boxes(out)
    assert all(zeros == h * w for zeros, h, w in boxes), "one solid rectangle per image"
    assert all(h <= 6 and w <= 6 for _, h, w in boxes)
    assert (6 * 6) in {zeros for zeros, _, _ in boxes}, "a square of side 6 where it lies inside"
    assert any(0 < h < 6 or 0 < w < 6 for _, h, w in boxes), "clipped where the centre is near a border"
    kept = out != 0
    assert torch.equal(out[kept], x[kept]), "every other pixel unchanged"


def test_cutout_repeats_for_a_seed_and_does_nothing_at_zero():
    x = torch.rand(8, 1, 8, 8) + 0.5
    torch.manual_seed(5)
    first = cutout(x, 4)
    torch.manual_seed(5)
    assert torch.equal(first, cutout(x, 4)), "drawn from the seeded global RNG"
    assert not torch.equal(first, cutout(x, 4))
    assert cutout(x, 0) is x
    assert validate_eval_config({"cutout_length": 4}).cutout_length == 4
    with pytest.raises(ConfigError) as info:
        validate_eval_config({"cutout_length": -1})
    assert "cutout_length" in info.value.errors


# ---- the architecture as study parameters ----------------------------------------------------------------------
@pytest.mark.parametrize("space_name", ["darts", "nb201"])
def test_architecture_parameters_have_fixed_choices_and_map_to_genotypes_and_back(space_name):
    space = get_space(space_name)
    edges = {ct: space.edges(ct) for ct in space.cell_types}
    seen: dict[str, list[str]] = {}
    rng = random.Random(0)
    for _ in range(20):
        params = {}

        def ask(name, choices):
            assert seen.setdefault(name, choices) == choices, f"{name}'s choices changed"
            params[name] = rng.choice(choices)
            return params[name]

        genotype = space.genotype_of_path(space.architecture_rule().suggest(ask, space.ops, edges))
        assert genotype_from_params(space, params) == genotype
        assert params_of_genotype(space, genotype) == params
    assert all(name.startswith("arch.") for name in seen)
    if space_name == "nb201":
        assert set(seen) == {f"arch.cell.{s}-{d}" for s, d in space.edges("cell")}
        assert seen["arch.cell.0-1"] == list(space.ops)
    else:
        assert seen["arch.normal.node2.inputs"] == ["0+1"] and seen["arch.normal.node3.inputs"] == ["0+1", "0+2",
                                                                                                     "1+2"]
        assert "none" not in seen["arch.normal.0-2"]
    published = next(iter(space.published.values()))
    rebuilt = genotype_from_params(space, params_of_genotype(space, published))
    assert space.path_of(rebuilt) == space.path_of(published), "the same cells, whatever order a genotype lists"
    with pytest.raises(ValueError, match="missing"):
        genotype_from_params(space, {})


# ---- the studies ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("space_name,genotype", [("nb201", "nb201_best"), ("s3", None)])
def test_retrain_tunes_the_training_settings_of_the_genotype(space_name, genotype):
    genotype = genotype or json.dumps(_sampled(space_name, 0))
    result = _study("retrain", space_name, genotype=genotype)
    assert {"best_value", "best_params", "trials", "final", "dataset", "states"} <= set(result)
    assert result["dataset"] == "digits" and result["best_value"] is not None
    for trial in result["trials"]:
        assert set(trial["params"]) <= TRAINING, "each parameter is named as the setting it sets"
        assert trial["test_acc"] is None and "genotype" not in trial
    names = set(result["trials"][0]["params"])
    assert {"lr", "momentum", "weight_decay", "batch_size", "drop_path", "cutout_length"} <= names
    assert ("auxiliary_weight" in names) == (space_name == "s3"), "tuned where the network has the head"
    final = result["final"]
    space = get_space(space_name)
    assert final["space"] == space_name and final["genotype"] == space.resolve(json.loads(genotype) if
                                                                               genotype.startswith("{") else genotype)
    assert {k: v for k, v in final["train"].items() if k != "auxiliary"} == result["best_params"]
    cfg = validate_eval_config({**final["train"], "space": space_name})  # feeds a final retrain as it is
    assert cfg.lr == result["best_params"]["lr"]


@pytest.mark.parametrize("space_name", ["darts", "nb201"])
def test_joint_trials_are_architectures_of_the_space_and_a_seed_repeats_the_study(space_name):
    first = _study("joint", space_name)
    space = get_space(space_name)
    for trial in first["trials"]:
        arch = {k: v for k, v in trial["params"].items() if k.startswith("arch.")}
        assert set(trial["params"]) - set(arch) <= TRAINING
        assert trial["genotype"] == genotype_from_params(space, trial["params"])
        assert space.resolve(json.loads(json.dumps(trial["genotype"]))) == trial["genotype"]
        assert params_of_genotype(space, trial["genotype"]) == arch
    best = next(t for t in first["trials"] if t["number"] == first["best_trial"])
    assert first["final"]["genotype"] == best["genotype"] and first["final"]["space"] == space_name
    again = _study("joint", space_name)
    assert [(t["params"], t["curve"], t["state"]) for t in again["trials"]] == \
           [(t["params"], t["curve"], t["state"]) for t in first["trials"]]


def test_pruned_trials_stop_early_and_the_test_set_is_never_read(monkeypatch):
    real = nascore.data.load_dataset

    class Untouchable(torch.utils.data.Dataset):
        def __len__(self):
            raise AssertionError("the test set was read")

        def __getitem__(self, i):
            raise AssertionError("the test set was read")

    def guarded(*args, **kwargs):
        train, _, spec = real(*args, **kwargs)
        return train, Untouchable(), spec

    monkeypatch.setattr(nascore.data, "load_dataset", guarded)
    monkeypatch.setattr(nascore.data, "test_loader", lambda *a, **k: pytest.fail("test_loader called"))
    result = _study("retrain", "nb201", genotype="nb201_resnet", trials=4, max_epochs=3)
    states = [t["state"] for t in result["trials"]]
    assert "pruned" in states and "complete" in states
    for trial in result["trials"]:
        assert trial["epochs"] == 3 if trial["state"] == "complete" else trial["epochs"] < 3
        assert trial["test_acc"] is None
    assert result["best_test_acc"] is None
    unpruned = _study("retrain", "nb201", genotype="nb201_resnet", trials=2, max_epochs=3, pruner="none")
    assert [t["epochs"] for t in unpruned["trials"]] == [3, 3]


# ---- bad input -----------------------------------------------------------------------------------------------------
def _errors(raw):
    with pytest.raises(ConfigError) as info:
        validate_study(raw)
    return info.value.errors


def test_bad_settings_of_retrain_and_joint_are_all_named():
    errors = _errors({"problem": "retrain"})
    assert set(errors) == {"space", "genotype"} and "problem retrain" in errors["space"]
    errors = _errors({"problem": "retrain", "space": "darts", "genotype": "darts_v9", "dataset": "wine",
                      "layers": 1, "trials": 0})
    assert set(errors) == {"genotype", "dataset", "layers", "trials"}
    assert "darts space" in errors["genotype"]
    assert "problem retrain" in errors["dataset"] and "'wine' is a table" in errors["dataset"]
    errors = _errors({"problem": "retrain", "space": "darts", "genotype": "nb201_best"})
    assert "not a genotype of the darts space" in errors["genotype"]
    errors = _errors({"problem": "retrain", "space": "nb201", "genotype": '{"normal": [}'})
    assert "JSON" in errors["genotype"]
    errors = _errors({"problem": "joint", "space": "dartz", "genotype": "darts_v2", "dataset": "csv:mine"})
    assert set(errors) == {"space", "genotype", "dataset"}
    assert "genotype belongs to problem retrain, not joint" == errors["genotype"]
    assert "problem joint" in errors["dataset"]
    errors = _errors({"problem": "tabular", "dataset": "digits", "space": "darts", "channels": 4})
    assert set(errors) == {"dataset", "space", "channels"}
    assert "problem tabular" in errors["dataset"] and "image dataset" in errors["dataset"]
    assert errors["space"] == "space belongs to problem retrain and joint, not tabular"
    assert validate_study({"problem": "joint", "space": "nb201", "dataset": "folder:mine"})["dataset"] == "folder:mine"


def test_the_cli_refuses_bad_input_with_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["hpo", "--problem", "retrain", "--space", "darts", "--genotype", "nb201_best", "--dataset",
                 "wine", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "genotype" in err and "dataset" in err and "problem retrain" in err
    assert not out.exists()
    assert main(["hpo", "--problem", "joint", "--out", str(out)]) == 2
    assert "problem joint needs a search space" in capsys.readouterr().err and not out.exists()


def test_the_cli_runs_a_joint_study(tmp_path, capsys):
    out = tmp_path / "joint"
    assert main(["hpo", "--problem", "joint", "--space", "nb201", "--channels", "4", "--trials", "2",
                 "--max-epochs", "1", "--min-epochs", "1", "--steps-per-epoch", "2", "--device", "cpu",
                 "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["problem"] == "joint" and len(result["trials"]) == 2 and result["final"]["space"] == "nb201"
    assert "wrote" in capsys.readouterr().out
