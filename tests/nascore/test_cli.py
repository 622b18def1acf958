"""The command line: bad input is rejected with its message, exit 2, nothing written."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "nascore", *args], cwd=cwd, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("flags, message", [
    (["--space", "dartz"], "unknown space 'dartz'"),
    (["--optimizer", "sgd"], "unknown optimizer 'sgd'"),
    (["--optimizer", "pcdarts", "--relaxation", "gumbel"],
     "unknown relaxation 'gumbel' (did you mean 'gumbel_hard' or 'gumbel_soft'?); choose one of: softmax,"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--epochs", "0"], "epochs must be a positive integer"),
    (["--batch-size", "-3"], "batch_size must be a positive integer"),
    (["--order", "3"], "order must be 1"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--layers", "2"], "needs at least 3 layers"),
])
def test_bad_search_flags(tmp_path, flags, message):
    out = tmp_path / "out"
    done = cli("search", "--out", str(out), *flags)
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists()


def test_bad_config_file_values_and_unknown_keys(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("space: darts\nepochs: -1\nlearning_rate: 3\n")
    out = tmp_path / "out"
    done = cli("search", "--config", str(cfg), "--out", str(out))
    assert done.returncode == 2
    assert "epochs must be a positive integer" in done.stderr and "unknown setting 'learning_rate'" in done.stderr
    assert not out.exists()


def test_unparseable_and_missing_config_files(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    done = cli("search", "--config", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "cannot parse c.json" in done.stderr
    done = cli("search", "--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert not (tmp_path / "o").exists()


def test_flags_override_the_config_file(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"space": "s2", "epochs": 5, "channels": 4, "layers": 3, "batch_size": 64}))
    out = tmp_path / "out"
    done = cli("search", "--config", str(cfg), "--epochs", "1", "--steps-per-epoch", "2", "--device", "cpu",
               "--curvature-every", "0",
               "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["space"] == "s2" and result["config"]["epochs"] == 1 and result["epochs_completed"] == 1
    assert (out / "checkpoint.pt").exists() and (out / "events.jsonl").exists()


def test_describe_darts_v2_has_the_published_size():
    done = cli("describe", "--space", "darts", "--genotype", "darts_v2", "--channels", "36", "--layers", "20",
               "--classes", "10", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["params"] == 3349342  # 3.3M in the DARTS paper, auxiliary head not counted
    assert info["flops"] > 0


def test_describe_supernet_and_nb201_defaults():
    info = json.loads(cli("describe", "--space", "darts", "--supernet", "--json").stdout)
    assert info["arch_params"] == 224 and info["params"] == 1930618
    info = json.loads(cli("describe", "--space", "nb201", "--genotype", "nb201_best", "--json").stdout)
    assert info["channels"] == 16 and info["layers"] == 5
    assert 73_306 < info["params"] <= 1_531_546


def test_describe_bad_genotype():
    done = cli("describe", "--space", "nb201", "--genotype", "|conv~0|")
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr


def test_bench_compare_alternates_rounds_and_reports_the_fastest(tmp_path):
    out = cli("bench", "--compare", "--rounds", "2", "--space", "s3", "--channels", "4", "--layers", "3",
                  "--batch", "4", "--steps", "1", "--warmup", "0", "--device", "cpu", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["rounds"] == 2
    for impl in ("naive", "ours"):
        row = report[impl]
        assert row["impl"] == impl and len(row["ms_per_step_rounds"]) == 2
        assert row["ms_per_step"] == min(row["ms_per_step_rounds"])
    assert report["speedup"] == round(report["naive"]["ms_per_step"] / report["ours"]["ms_per_step"], 2)


def test_bench_rejects_bad_rounds():
    out = cli("bench", "--compare", "--rounds", "0")
    assert out.returncode == 2 and "--rounds must be a positive integer" in out.stderr
