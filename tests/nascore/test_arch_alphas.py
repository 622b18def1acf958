"""The arch events carry the raw alphas where the heatmap's weights are their softmax (the DARTS family), so the
page can show which ops gain while the weights are still near uniform; methods without alphas send none."""
import math

import pytest

from nascore.events import read_events
from nascore.runner import run_search

TINY = {"space": "s3", "dataset": "digits", "epochs": 1, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 3, "device": "cpu", "seed": 3, "curvature_every": 0, "derive_samples": 2,
        "select_samples": 0}


def _softmax(row):
    top = max(v for v in row if v is not None)
    exps = [0.0 if v is None else math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


def _arch_events(tmp_path, optimizer):
    run_search({**TINY, "optimizer": optimizer}, tmp_path)
    return [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "arch"]


@pytest.mark.parametrize("optimizer", ["darts", "gdas"])
def test_the_arch_events_carry_alphas_whose_softmax_is_the_weights(optimizer, tmp_path):
    events = _arch_events(tmp_path, optimizer)
    assert [e["epoch"] for e in events] == [0, 1]
    for event in events:
        for cell in event["cells"].values():
            assert len(cell["alphas"]) == len(cell["weights"]) == len(cell["edges"])
            for alphas, weights in zip(cell["alphas"], cell["weights"]):
                assert len(alphas) == len(cell["ops"])
                assert _softmax(alphas) == pytest.approx(weights, abs=2e-6)
    # the search moved the alphas: the last epoch's differ from the first's (not a copy of the initial values)
    assert events[-1]["cells"]["normal"]["alphas"] != events[0]["cells"]["normal"]["alphas"]


def test_sampling_frequencies_come_without_alphas(tmp_path):
    events = _arch_events(tmp_path, "rsws")
    assert events and all(e["kind"] == "frequency" for e in events)
    assert all("alphas" not in cell for e in events for cell in e["cells"].values())
