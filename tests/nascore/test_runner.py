"""The search runner: learning, determinism, events, checkpoints, resume, failure."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nascore.events import read_events
from nascore.runner import SearchFailed, run_search
from tests.nascore.support import stop_after

ROOT = Path(__file__).resolve().parents[2]
TINY = {"space": "s3", "dataset": "digits", "epochs": 3, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 6, "device": "cpu", "seed": 1, "curvature_every": 0}


def test_search_on_digits_learns(tmp_path):
    cfg = {"space": "darts", "dataset": "digits", "epochs": 3, "channels": 8, "layers": 3, "batch_size": 64,
           "device": "cpu", "seed": 0, "curvature_every": 0}
    outcome = run_search(cfg, tmp_path)
    assert outcome.status == "finished"
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["metrics"]["val_acc"] > 0.5  # chance is 0.1
    assert result["space"] == "darts" and result["optimizer"] == "darts"
    assert result["ops"] == ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                             "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
    for ct in ("normal", "reduce"):
        rows = result["alphas"][ct]
        assert len(rows) == 14 and all(len(r) == 8 for r in rows)
        assert all(abs(sum(r) - 1) < 1e-4 for r in rows)
        assert len(result["genotype"][ct]) == 8
    assert result["arch_params"] == 224
    assert result["config"]["epochs"] == 3 and result["seed"] == 0
    assert {"torch", "python", "nascore"} <= set(result["versions"])


def test_events_are_typed_ordered_and_complete(tmp_path):
    run_search(TINY, tmp_path)
    events = read_events(tmp_path / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "finished"
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    arch = [e for e in events if e["type"] == "arch"]
    assert [e["epoch"] for e in arch] == [0, 1, 2, 3]
    cells = arch[-1]["cells"]
    assert set(cells) == {"normal", "reduce"}
    assert cells["normal"]["ops"] == ["none", "skip_connect", "sep_conv_3x3"]
    assert len(cells["normal"]["edges"]) == 14 and len(cells["normal"]["weights"]) == 14
    assert [e["epoch"] for e in events if e["type"] == "checkpoint"] == [1, 2, 3]
    assert all(e["v"] == 1 and "time" in e for e in events)


def test_seeded_runs_are_deterministic(tmp_path):
    a = run_search(TINY, tmp_path / "a").result
    b = run_search(TINY, tmp_path / "b").result
    assert a["alphas"] == b["alphas"] and a["genotype"] == b["genotype"] and a["metrics"] == b["metrics"]
    c = run_search({**TINY, "seed": 2}, tmp_path / "c").result
    assert c["alphas"] != a["alphas"]


def test_cancel_then_resume_equals_uninterrupted(tmp_path):
    full = run_search(TINY, tmp_path / "full").result
    stop_in_epoch_two = stop_after(TINY["steps_per_epoch"] + 2)
    part = run_search(TINY, tmp_path / "part", stop_check=stop_in_epoch_two)
    assert part.status == "cancelled" and part.result["epochs_completed"] == 1
    resumed = run_search(TINY, tmp_path / "part")
    assert resumed.status == "finished"
    assert resumed.result["alphas"] == full["alphas"]
    assert resumed.result["genotype"] == full["genotype"]
    assert resumed.result["metrics"] == full["metrics"]
    events = read_events(tmp_path / "part" / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2, 3]


#: tiny networks: one torch thread is faster and does not stall when the 2 cores are shared
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _cli(args, **kw):
    return subprocess.run([sys.executable, "-m", "nascore", *args], cwd=ROOT, capture_output=True, text=True,
                          env=ENV, **kw)


def _search_args(out):
    args = ["search", "--out", str(out)]
    for key, value in {**TINY, "steps_per_epoch": 20, "epochs": 3}.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return args


@pytest.mark.slow
def test_killed_process_resumes_to_the_same_result(tmp_path):
    done = _cli(_search_args(tmp_path / "full"))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "nascore", *_search_args(out)], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events_file = out / "events.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if events_file.exists() and any(e["type"] == "step" and e["epoch"] == 2 for e in read_events(events_file)):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "result.json").exists()
    resumed = _cli(_search_args(out))
    assert resumed.returncode == 0, resumed.stderr
    a = json.loads((tmp_path / "full" / "result.json").read_text())
    b = json.loads((out / "result.json").read_text())
    assert a["alphas"] == b["alphas"] and a["genotype"] == b["genotype"] and a["metrics"] == b["metrics"]
    epochs = [e["epoch"] for e in read_events(out / "events.jsonl") if e["type"] == "epoch"]
    assert epochs == [1, 2, 3]


def test_nan_loss_fails_with_a_reason(tmp_path):
    with pytest.raises(SearchFailed, match="became nan|became inf"):
        run_search({**TINY, "w_lr": 1e12, "grad_clip": 1e30}, tmp_path)
    events = read_events(tmp_path / "events.jsonl")
    assert events[-1]["type"] == "failed" and "learning rate" in events[-1]["reason"]
    assert not (tmp_path / "result.json").exists()


def test_checkpoint_of_another_config_is_not_silently_mixed(tmp_path):
    run_search({**TINY, "epochs": 1}, tmp_path)
    with pytest.raises(SearchFailed, match="another config"):
        run_search({**TINY, "epochs": 1, "seed": 5}, tmp_path)
