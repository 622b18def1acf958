"""DARTS-ES and DARTS-ADA: the criterion on constructed eigenvalue sequences, collapse counts, config and CLI
checks, and real tiny runs (a forced trigger: stop, or roll back with more weight decay; exact resume)."""
import json
import math

import pytest

from nascore.cli import build_parser
from nascore.config import ConfigError, choices, validate_config
from nascore.early_stopping import collapse_counts, genotype_cells, should_stop
from nascore.events import read_events
from nascore.runner import run_search
from nascore.settings_cli import given_settings
from nascore.spaces import get_space
from tests.nascore.support import stop_after


# ---- the criterion ---------------------------------------------------------------------------
def test_flat_curvature_never_stops():
    for n in range(12):
        assert not should_stop([1.0] * n, 5, 0.75).stop


def test_waits_for_two_windows():
    d = should_stop([1, 1, 1, 1, 1, 9, 9, 9, 9], 5, 0.75)
    assert not d.stop and d.ratio is None and d.trigger_index is None and "9 of the 10" in d.reason


def test_growth_triggers_with_means_ratio_and_indices():
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]  # k=3: earlier = mean(1,1,1), later = mean(1,2,2)
    d = should_stop(values, 3, 0.75, epochs=[2, 4, 6, 8, 10, 12, 14, 16])
    assert d.stop and d.earlier == 1.0 and d.later == pytest.approx(5 / 3) and d.ratio == pytest.approx(0.6)
    assert d.trigger_index == 7 and d.return_index == 4
    assert "epochs 12-16" in d.reason and "epochs 6-10" in d.reason and "0.600" in d.reason
    # the same growth at the paper's defaults: means over 5 against the 5 before
    d = should_stop([1.0] * 5 + [1.0, 1.2, 1.4, 1.6, 1.8], 5, 0.75)
    assert d.stop and d.ratio == pytest.approx(1 / 1.4) and d.return_index == 4


def test_threshold_boundary_and_slow_growth():
    assert not should_stop([3, 3, 4, 4], 2, 0.75).stop  # ratio exactly 0.75: not below
    assert should_stop([3, 3, 4, 4.01], 2, 0.75).stop
    assert not should_stop([1.0 + 0.01 * i for i in range(30)], 5, 0.75).stop  # slow growth


def test_only_the_last_two_windows_count():
    grown_then_flat = [1, 1, 1, 5, 5, 5, 5, 5, 5]
    assert not should_stop(grown_then_flat, 3, 0.75).stop
    assert should_stop(grown_then_flat[:6], 3, 0.75).stop


def test_shrinking_non_positive_and_missing_values_do_not_trigger():
    assert not should_stop([4, 4, 2, 2], 2, 0.75).stop
    d = should_stop([0.1, 0.1, -0.5, -0.5], 2, 0.75)
    assert not d.stop and d.ratio is None and "not positive" in d.reason
    assert not should_stop([1, 1, math.nan, 9], 2, 0.75).stop
    assert not should_stop([1, 1, None, 9], 2, 0.75).stop
    assert should_stop([-1, -1, 1, 1], 2, 0.75).stop  # from negative to positive curvature: earlier/later < 0


def test_threshold_above_one_triggers_at_the_first_decision():
    d = should_stop([5, 5, 4, 4], 2, 1.5)  # even a drop of 20%: 5/4 = 1.25 < 1.5
    assert d.stop and d.return_index == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        should_stop([1], 0, 0.75)
    with pytest.raises(ValueError, match="threshold"):
        should_stop([1], 1, 0)
    with pytest.raises(ValueError, match="same length"):
        should_stop([1, 2], 1, 0.75, epochs=[1])


# ---- collapse counts -------------------------------------------------------------------------
def test_collapse_counts_for_darts_and_nb201_genotypes():
    darts_v2 = get_space("darts").resolve("darts_v2")
    counts = collapse_counts(darts_v2)
    assert counts["skip_connections"] == {"normal": 2, "reduce": 3}
    assert counts["parameter_free"] == {"normal": 2, "reduce": 8}  # the reduce cell: max pools and skips
    all_skip = get_space("nb201").resolve("nb201_all_skip")
    assert collapse_counts(all_skip) == {"skip_connections": {"cell": 6}, "parameter_free": {"cell": 6}}
    resnet = get_space("nb201").resolve("nb201_resnet")
    assert genotype_cells(resnet)["cell"][1] == "none"
    assert collapse_counts(resnet) == {"skip_connections": {"cell": 1}, "parameter_free": {"cell": 4}}
    with pytest.raises(TypeError):
        collapse_counts(42)


# ---- config and CLI --------------------------------------------------------------------------
def test_config_defaults_and_messages():
    cfg = validate_config({})
    assert (cfg.curvature_every, cfg.early_stop, cfg.early_stop_window, cfg.early_stop_threshold) == (1, "none", 5, 0.75)
    assert choices()["early_stop"] == ["none", "es", "ada"]
    cases = [({"early_stop": "stop"}, "early_stop", "choose one of: none, es, ada"),
             ({"early_stop": "es", "curvature_every": 0}, "early_stop", "set curvature_every"),
             ({"curvature_every": -1}, "curvature_every", "non-negative integer"),
             ({"early_stop_window": 0}, "early_stop_window", "positive integer"),
             ({"early_stop_threshold": -0.5}, "early_stop_threshold", "positive number"),
             ({"ada_factor": 0.5}, "ada_factor", "greater than 1"),
             ({"curvature_samples": 0}, "curvature_samples", "positive integer")]
    for raw, key, message in cases:
        with pytest.raises(ConfigError) as exc:
            validate_config(raw)
        assert message in exc.value.errors[key]


def test_cli_flags_set_the_config_keys():
    args = build_parser().parse_args(["search", "--curvature-every", "2", "--early-stop", "es", "--early-stop-window",
                                      "3", "--early-stop-threshold", "0.8", "--ada-factor", "2"])
    got = given_settings(args, args.setting_names)
    assert got == {"curvature_every": 2, "early_stop": "es", "early_stop_window": 3, "early_stop_threshold": 0.8,
                   "ada_factor": 2.0}
    assert validate_config(got).early_stop == "es"


# ---- real runs ---------------------------------------------------------------------------------
RUN = {"space": "s3", "dataset": "digits", "channels": 4, "layers": 3, "batch_size": 32, "steps_per_epoch": 2,
       "device": "cpu", "seed": 3, "curvature_samples": 32, "curvature_trace_samples": 0}
#: a threshold no ratio of positive means stays above: the criterion triggers at its first decision
FORCE = 1e9


def test_darts_es_stops_and_returns_the_architecture_of_k_epochs_before(tmp_path):
    cfg = {**RUN, "epochs": 6, "early_stop": "es", "early_stop_window": 2, "early_stop_threshold": FORCE}
    outcome = run_search(cfg, tmp_path)
    events = read_events(tmp_path / "events.jsonl")
    assert outcome.status == "stopped_early"
    stop = [e for e in events if e["type"] == "early_stop"]
    assert len(stop) == 1
    stop = stop[0]
    assert stop["trigger_epoch"] == 4 and stop["returned_epoch"] == 2  # 2k points needed, then k back
    points = {e["epoch"]: e["eigenvalue"] for e in events if e["type"] == "curvature"}
    assert sorted(points) == [1, 2, 3, 4]
    assert stop["earlier"] == pytest.approx((points[1] + points[2]) / 2)
    assert stop["later"] == pytest.approx((points[3] + points[4]) / 2)
    assert stop["ratio"] == pytest.approx(stop["earlier"] / stop["later"])
    # every curvature event carries the criterion as read at that point (the page draws it, it does not recompute)
    ratios = {e["epoch"]: (e["ratio"], e["window"], e["threshold"]) for e in events if e["type"] == "curvature"}
    assert ratios == {1: (None, 2, FORCE), 2: (None, 2, FORCE), 3: (None, 2, FORCE), 4: (stop["ratio"], 2, FORCE)}
    assert stop["reason"].startswith("DARTS-ES stopped the search after epoch 4 of 6 and returns the architecture of epoch 2")
    genotypes = {e["epoch"]: e for e in events if e["type"] == "genotype"}
    result = outcome.result
    assert result["genotype"] == genotypes[2]["genotype"] == stop["genotype"]
    assert result["last_genotype"] == genotypes[4]["genotype"]
    assert result["returned_epoch"] == 2 and result["epochs_completed"] == 4
    assert result["collapse"]["genotype"] == {"skip_connections": genotypes[2]["skip_connections"],
                                              "parameter_free": genotypes[2]["parameter_free"]}
    assert result["returned_metrics"]["val_acc"] == [e for e in events if e["type"] == "epoch"][1]["val_acc"]
    assert events[-1]["type"] == "finished" and events[-1]["status"] == "stopped_early"
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert on_disk["status"] == "stopped_early" and on_disk["genotype"] == genotypes[2]["genotype"]
    assert not any(e["type"] == "epoch" and e["epoch"] > 4 for e in events)
    # resuming a stopped run trains nothing and gives the same answer
    again = run_search(cfg, tmp_path)
    assert again.status == "stopped_early" and again.result["genotype"] == result["genotype"]
    assert not any(e["type"] == "epoch" and e["epoch"] > 4 for e in read_events(tmp_path / "events.jsonl"))


def test_darts_ada_rolls_back_raises_weight_decay_and_resumes_exactly(tmp_path):
    # the earlier rule, now ada_keep_points false (the reference's rule: tests/nascore/test_paper_deviations.py)
    cfg = {**RUN, "epochs": 4, "early_stop": "ada", "early_stop_window": 1, "early_stop_threshold": FORCE,
           "ada_max_increases": 2, "ada_factor": 3.0, "ada_keep_points": False}
    full = run_search(cfg, tmp_path / "full")
    assert full.status == "finished"
    events = read_events(tmp_path / "full" / "events.jsonl")
    changes = [e for e in events if e["type"] == "regularization_change"]
    # k=1: trigger at epoch 2 (points 1, 2), back to 1; then only points after the rollback count:
    # trigger at 3 (points 2, 3), back to 2; the maximum of 2 increases is reached and the run goes on to the end
    assert [(c["trigger_epoch"], c["restored_epoch"], c["increase"]) for c in changes] == [(2, 1, 1), (3, 2, 2)]
    assert changes[0]["old"] == pytest.approx(3e-4) and changes[0]["new"] == pytest.approx(9e-4)
    assert changes[1]["new"] == pytest.approx(27e-4) and changes[1]["parameter"] == "weight_decay"
    assert "DARTS-ADA went back from epoch 2 to epoch 1" in changes[0]["reason"]
    assert [(e["epoch"], e["round"]) for e in events if e["type"] == "curvature"] == [
        (1, 0), (2, 0), (2, 1), (3, 1), (3, 2), (4, 2)]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2, 2, 3, 3, 4]
    reg = full.result["regularization"]
    assert reg["weight_decay"] == pytest.approx(27e-4) and reg["increases"] == 2 and len(reg["changes"]) == 2
    assert [p["epoch"] for p in full.result["curvature"]] == [1, 2, 3, 4]
    assert [p["epoch"] for p in full.result["curvature_discarded"]] == [2, 3]
    assert full.result["early_stop"] is None

    # epochs 1, 2 (rollback), then into the re-run of epoch 2
    stop_after_first_rollback = stop_after(2 * RUN["steps_per_epoch"] + 1)
    part = run_search(cfg, tmp_path / "part", stop_check=stop_after_first_rollback)
    assert part.status == "cancelled"
    assert part.result["regularization"]["increases"] == 1
    resumed = run_search(cfg, tmp_path / "part")
    for key in ("alphas", "genotype", "metrics", "curvature", "curvature_discarded"):
        assert resumed.result[key] == full.result[key], key
    assert resumed.result["regularization"]["weight_decay"] == reg["weight_decay"]
    curv = lambda evs: [(e["epoch"], e["eigenvalue"], e["round"]) for e in evs if e["type"] == "curvature"]  # noqa: E731
    assert curv(read_events(tmp_path / "part" / "events.jsonl")) == curv(events)
