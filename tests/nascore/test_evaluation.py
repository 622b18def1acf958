"""The evaluator: parameter and MAC counts against published facts, describe, stand-alone
networks of every published genotype, drop-path, and a tiny from-scratch training run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from nascore.config import ConfigError
from nascore.device import resolve_device
from nascore.evaluation.measure import (
    count_flops,
    count_params,
    describe,
    uniform_weights,
)
from nascore.evaluation.train import (
    EvalConfig,
    EvalEpoch,
    EvaluationFailed,
    drop_path_at,
    evaluate_genotype,
    validate_eval_config,
)
from nascore.networks.edges import CategoricalOp, mixed_op_factory
from nascore.ops import Identity
from nascore.spaces import GenotypeError, get_space
from nascore.spaces.darts import PUBLISHED as DARTS_PUBLISHED
from tests.nascore.support import stop_after

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "darts_genotypes.json"
NB201_ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
NB201_ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
QUICK = {"epochs": 2, "channels": 8, "layers": 3, "device": "cpu", "seed": 0}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks gain nothing from intra-op threads, and on a busy 2-core machine OpenMP
    threads competing with other processes make them many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- sizes: published facts ---------------------------------------------------------------

@pytest.fixture(scope="module")
def darts_v2_cifar() -> dict:
    return describe("darts", "darts_v2", channels=36, layers=20, num_classes=10)


def test_darts_v2_has_the_published_size(darts_v2_cifar):
    # DARTS (Liu et al., 2019), Table 1: DARTS (second order) 3.3M parameters on CIFAR-10
    assert darts_v2_cifar["params"] == 3_349_342
    assert darts_v2_cifar["auxiliary_params"] > 0  # the head exists but is not counted
    assert darts_v2_cifar["genotype"] == DARTS_PUBLISHED["darts_v2"]
    assert darts_v2_cifar["genotype_name"] == "darts_v2"
    assert (darts_v2_cifar["channels"], darts_v2_cifar["layers"]) == (36, 20)


def test_darts_v2_flops_are_plausible(darts_v2_cifar):
    # commonly quoted at about 0.5-0.6 G multiply-adds for a 32x32 CIFAR image
    assert 500e6 < darts_v2_cifar["flops"] < 600e6


def test_count_params_leaves_out_the_auxiliary_head_unless_asked():
    model = get_space("darts").build_network("darts_v2", 16, 8, 3, 10, auxiliary=True)
    total = sum(p.numel() for p in model.parameters())
    aux = sum(p.numel() for p in model.auxiliary.parameters())
    assert count_params(model, include_auxiliary=True) == total
    assert count_params(model) == total - aux
    plain = get_space("darts").build_network("darts_v2", 16, 8, 3, 10, auxiliary=False)
    assert count_params(plain) == count_params(model)


def test_darts_supernet_size():
    info = describe("darts", supernet=True, channels=16, layers=8)
    assert info["params"] == 1_930_618
    assert info["arch_params"] == 224 == 2 * 14 * 8
    assert info["supernet"] is True and "genotype" not in info
    # a supernet computes every candidate op: costlier than any one architecture of it
    assert info["flops"] > describe("darts", "darts_v2", channels=16, layers=8)["flops"]


def test_nb201_extremes_have_the_published_sizes():
    # NAS-Bench-201 (Dong and Yang, 2020): CIFAR-10 networks from 0.073M to 1.531M parameters,
    # and at most 220.11M FLOPs (the all-3x3-conv cell)
    big = describe("nb201", NB201_ALL_CONV3)
    assert (big["channels"], big["layers"]) == (16, 5)  # the benchmark's own skeleton by default
    assert big["params"] == 1_531_546
    assert big["flops"] == pytest.approx(220.11e6, rel=0.005)
    space = get_space("nb201")
    assert count_params(space.build_network(NB201_ALL_NONE, 16, 5, 3, 10)) == 73_306


def test_describe_nb201_defaults_and_supernet():
    best = describe("nb201", "nb201_best")
    assert best["genotype"] == get_space("nb201").published["nb201_best"]
    assert (best["channels"], best["layers"], best["auxiliary_params"]) == (16, 5, 0)
    sup = describe("nb201", supernet=True)
    assert sup["arch_params"] == 6 * 5 == get_space("nb201").num_arch_params()
    assert sup["params"] > best["params"]  # every candidate op of every edge
    assert sup["flops"] > best["flops"]


def test_describe_for_other_inputs():
    info = describe("darts", "darts_v1", channels=8, layers=5, num_classes=7, in_channels=1, image_size=8)
    assert (info["num_classes"], info["in_channels"], info["image_size"]) == (7, 1, 8)
    model = get_space("darts").build_network("darts_v1", 8, 5, 1, 7)
    assert info["params"] == count_params(model)


def test_flops_grow_with_channels():
    flops = [describe("darts", "darts_v2", channels=c, layers=5)["flops"] for c in (8, 16, 24)]
    params = [describe("darts", "darts_v2", channels=c, layers=5)["params"] for c in (8, 16, 24)]
    assert flops[0] < flops[1] < flops[2]
    assert params[0] < params[1] < params[2]
    assert describe("darts", "darts_v2", channels=16, layers=8)["flops"] > flops[1]  # and with depth


def test_count_flops_by_hand_and_restores_modes():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),                      # 8x4x4 out, 3*9 MACs each
        nn.BatchNorm2d(8),                                             # not counted
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False),  # depthwise: 8x4x4 out, 9 each
        nn.ReLU(), nn.MaxPool2d(1),                                    # not counted
        nn.Flatten(), nn.Linear(128, 10),                              # 10 out, 128 each
    )
    model.train()
    model[1].eval()
    expected = 8 * 4 * 4 * 27 + 8 * 4 * 4 * 9 + 10 * 128
    assert count_flops(model, (3, 8, 8)) == expected
    assert count_flops(model, (1, 3, 8, 8)) == expected  # a leading batch dim means one image all the same
    assert model.training and not model[1].training and model[0].training
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(model, (3, 8))


def test_count_flops_of_a_supernet_needs_and_uses_weights():
    space = get_space("s2")
    model = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), 8, 3, 3, 10)
    weights = uniform_weights(space)
    assert torch.allclose(weights["normal"], torch.full((14, 2), 0.5))
    flops = count_flops(model, (3, 16, 16), weights)
    all_sep = {ct: [["sep_conv_3x3", src] for node in range(4) for src in (0, 1)] for ct in ("normal", "reduce")}
    single = count_flops(space.build_network({**all_sep}, 8, 3, 3, 10), (3, 16, 16))
    assert flops > single


def test_uniform_weights_respect_the_op_mask():
    space = get_space("s1")  # two candidate ops per edge out of six
    weights = uniform_weights(space)
    for ct in space.cell_types:
        mask = space.op_mask(ct)
        assert torch.equal(weights[ct] > 0, mask)
        assert torch.allclose(weights[ct].sum(1), torch.ones(14))


def test_describe_rejects_bad_input_with_clear_messages():
    with pytest.raises(ValueError, match="unknown space 'nope'.*darts"):
        describe("nope", "darts_v2")
    with pytest.raises(ValueError, match="genotype .* or supernet"):
        describe("darts")
    with pytest.raises(ValueError, match="not both"):
        describe("darts", "darts_v2", supernet=True)
    too_few = get_space("darts").min_layers - 1
    with pytest.raises(ValueError, match=f"at least {too_few + 1} layers, not {too_few}"):
        describe("darts", "darts_v2", layers=too_few)
    with pytest.raises(ValueError, match="channels must be a positive integer"):
        describe("darts", "darts_v2", channels=0)
    with pytest.raises(GenotypeError, match="unknown op 'conv_9x9'"):
        describe("nb201", "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(GenotypeError):
        describe("darts", "nb201_best")


# ---- published genotypes --------------------------------------------------------------------

def test_published_darts_genotypes_match_the_reference_file():
    if not REFERENCE.is_file():
        pytest.skip(f"reference facts not found at {REFERENCE} (the shared folder beside the repository)")
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))["genotypes"]
    for name in ("darts_v1", "darts_v2", "nasnet", "amoebanet"):
        assert DARTS_PUBLISHED[name] == reference[name], name
    assert set(reference) <= set(DARTS_PUBLISHED)


@pytest.mark.parametrize("space_name,name,size", [
    ("darts", "darts_v1", (8, 5)), ("darts", "darts_v2", (8, 5)), ("darts", "nasnet", (8, 5)),
    ("darts", "amoebanet", (8, 5)), ("nb201", "nb201_best", (8, 1)),
])
def test_published_networks_forward(space_name, name, size):
    space = get_space(space_name)
    torch.manual_seed(0)
    model = space.build_network(name, *size, 3, 10, auxiliary=True, drop_path=True)
    model.set_drop_path(0.2)
    model.train()
    out = model(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    if space_name == "darts":
        assert model.aux_logits is not None and model.aux_logits.shape == (4, 10)
    model.eval()
    small = model(torch.randn(2, 3, 8, 8))  # digits-sized input
    assert small.shape == (2, 10) and model.aux_logits is None


# ---- drop-path ------------------------------------------------------------------------------

def test_drop_path_never_on_identity_edges():
    model = get_space("darts").build_network("darts_v2", 8, 5, 3, 10, drop_path=True)
    edges = [m for m in model.modules() if isinstance(m, CategoricalOp)]
    identities = [e for e in edges if isinstance(e.op, Identity)]
    assert identities and len(identities) < len(edges)
    for edge in edges:
        assert edge.droppable == (not isinstance(edge.op, Identity)), edge.op_name
    model.set_drop_path(0.3)
    assert all(e.drop_prob == 0.3 for e in edges)
    plain = get_space("darts").build_network("darts_v2", 8, 5, 3, 10, drop_path=False)
    assert not any(m.droppable for m in plain.modules() if isinstance(m, CategoricalOp))


def test_drop_path_only_in_training():
    torch.manual_seed(0)
    conv = CategoricalOp("sep_conv_3x3", 4, 1, affine=True, drop_path=True)
    conv.drop_prob = 0.5
    x = torch.randn(64, 4, 6, 6)
    conv.train()
    dropped = (conv(x).flatten(1).abs().sum(1) == 0).sum()
    assert 10 < dropped < 54  # about half of the samples lose the path
    conv.eval()
    assert (conv(x).flatten(1).abs().sum(1) > 0).all()
    skip = CategoricalOp("skip_connect", 4, 1, affine=True, drop_path=True)
    skip.drop_prob = 0.9
    skip.train()
    assert torch.equal(skip(x), x)


def test_drop_path_schedule_is_linear_in_epochs():
    cfg = EvalConfig(epochs=10, drop_path=0.2)
    assert [round(drop_path_at(cfg, e), 6) for e in (0, 5, 9)] == [0.0, 0.1, 0.18]


# ---- training from scratch --------------------------------------------------------------------

def test_evaluate_genotype_learns_and_is_deterministic():
    events: list[tuple[int, dict]] = []
    first = evaluate_genotype("darts", "darts_v2", dict(QUICK), sinks=[lambda seq, e: events.append((seq, e))])
    second = evaluate_genotype("darts", "darts_v2", EvalConfig(**QUICK))
    assert first["test_acc"] > 0.4  # ten classes: chance is 0.1
    for key in ("test_acc", "test_loss", "train_acc", "train_loss", "params", "flops"):
        assert first[key] == second[key], key
    assert set(first) >= {"space", "genotype", "params", "flops", "test_acc", "test_loss", "train_acc", "epochs",
                          "config", "seed", "seconds"}
    assert first["epochs"] == 2 and first["status"] == "finished" and first["seed"] == 0
    assert first["params"] == describe("darts", "darts_v2", channels=8, layers=3, in_channels=1, image_size=8)["params"]
    assert first["config"]["channels"] == 8 and first["config"]["genotype"] == DARTS_PUBLISHED["darts_v2"]
    assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
    assert [e["type"] for _, e in events if e["type"] != "step"] == ["run_started", "eval_epoch", "eval_epoch", "finished"]
    steps = [e for _, e in events if e["type"] == "step"]  # sampled: step 1 and every step_log_every-th
    spe = events[0][1]["steps_per_epoch"]
    assert [(e["epoch"], e["step"]) for e in steps] == [(ep, st) for ep in (1, 2) for st in range(1, spe + 1)
                                                        if st == 1 or st % 10 == 0]
    assert all(e["steps_per_epoch"] == spe and 0 <= e["train_acc"] <= 1 and e["train_loss"] > 0 for e in steps)
    epochs = [e for _, e in events if e["type"] == EvalEpoch.type]
    assert [e["drop_path"] for e in epochs] == [0.0, 0.1]
    assert epochs[0]["lr"] == pytest.approx(0.025) and epochs[1]["lr"] < epochs[0]["lr"]
    assert epochs[-1]["test_acc"] == first["test_acc"]
    assert events[-1][1]["result"]["test_acc"] == first["test_acc"]
    json.dumps(first)  # a result is plain data


def test_evaluate_nb201_and_cancellation():
    result = evaluate_genotype("nb201", "nb201_best", {"epochs": 1, "channels": 4, "layers": 1, "device": "cpu",
                                                       "steps_per_epoch": 2})
    assert result["epochs"] == 1 and 0 <= result["test_acc"] <= 1
    events = []
    cancelled = evaluate_genotype("darts", "darts_v1", dict(QUICK), sinks=[lambda s, e: events.append(e)],
                                  stop_check=lambda: True)
    assert cancelled["status"] == "cancelled" and cancelled["epochs"] == 0 and cancelled["test_acc"] is None
    assert [e["type"] for e in events] == ["run_started", "finished"] and events[-1]["status"] == "cancelled"


def test_evaluate_genotype_resumes_exactly_from_its_checkpoint(tmp_path: Path):
    quick = {**QUICK, "epochs": 3, "steps_per_epoch": 4, "step_log_every": 2}
    whole = evaluate_genotype("darts", "darts_v2", dict(quick))
    path = tmp_path / "eval.pt"
    events: list[tuple[int, dict]] = []

    def sink(seq: int, event: dict) -> None:
        events.append((seq, event))

    sink.truncate_after = lambda seq: events.__setitem__(slice(None), [(s, e) for s, e in events if s <= seq])  # type: ignore[attr-defined]
    # stop at the first step of epoch 2: epoch 1 is checkpointed, the rest must be redone identically
    stop_in_epoch_two = stop_after(quick["steps_per_epoch"])
    first = evaluate_genotype("darts", "darts_v2", dict(quick), sinks=[sink], stop_check=stop_in_epoch_two, checkpoint=path)
    assert first["status"] == "cancelled" and first["epochs"] == 1 and path.is_file()
    assert [e["type"] for _, e in events][-2:] == ["checkpoint", "finished"]
    checkpoint_seq = [s for s, e in events if e["type"] == "checkpoint"][0]
    second = evaluate_genotype("darts", "darts_v2", {**quick, "device": "cpu"}, sinks=[sink], checkpoint=path)
    assert second["status"] == "finished" and second["epochs"] == 3
    for key in ("test_acc", "test_loss", "train_acc", "train_loss", "params", "flops"):
        assert second[key] == whole[key], key
    assert [s for s, _ in events] == list(range(1, len(events) + 1))  # renumbered after the checkpoint, no gap
    started = [e for _, e in events if e["type"] == "run_started"]
    assert [(e["resumed"], e["start_epoch"]) for e in started] == [(False, 0), (True, 1)]
    assert events[checkpoint_seq][1]["type"] == "run_started"  # the cancelled tail (its "finished") was dropped
    assert [e["epoch"] for _, e in events if e["type"] == "eval_epoch"] == [1, 2, 3]
    assert [e["status"] for _, e in events if e["type"] == "finished"] == ["finished"]
    with pytest.raises(EvaluationFailed, match="another config or genotype"):
        evaluate_genotype("darts", "darts_v1", dict(quick), checkpoint=path)


def test_evaluate_genotype_rejects_bad_input_before_any_event():
    events = []
    with pytest.raises(ValueError, match="unknown space 'nope'"):
        evaluate_genotype("nope", "darts_v2", dict(QUICK), sinks=[lambda s, e: events.append(e)])
    with pytest.raises(GenotypeError):
        evaluate_genotype("nb201", "darts_v2", dict(QUICK), sinks=[lambda s, e: events.append(e)])
    with pytest.raises(ConfigError):
        evaluate_genotype("darts", "darts_v2", {"epochs": 0}, sinks=[lambda s, e: events.append(e)])
    assert events == []


# ---- config and device ----------------------------------------------------------------------

def test_eval_config_defaults_follow_darts():
    cfg = validate_eval_config({})
    assert (cfg.batch_size, cfg.lr, cfg.lr_min, cfg.momentum, cfg.weight_decay, cfg.grad_clip) == (
        96, 0.025, 0.0, 0.9, 3e-4, 5.0)
    assert (cfg.auxiliary, cfg.auxiliary_weight, cfg.drop_path, cfg.epochs) == (True, 0.4, 0.2, 20)
    assert (cfg.channels, cfg.layers, cfg.dataset, cfg.download, cfg.device) == (None, None, "digits", False, "auto")
    assert validate_eval_config(cfg) == cfg


def test_bad_eval_config_is_rejected_with_messages():
    with pytest.raises(ConfigError) as info:
        validate_eval_config({"dataset": "imagenet", "space": "nope", "epochs": 0, "batch_size": -5,
                              "drop_path": 1.5, "device": "tpu", "lr": "fast", "auxiliary": "yes", "bogus": 1,
                              "channels": 0, "seed": -1})
    errors = info.value.errors
    assert "unknown dataset 'imagenet'" in errors["dataset"] and "digits" in errors["dataset"]
    assert "unknown space 'nope'" in errors["space"] and "nb201" in errors["space"]
    assert errors["epochs"] == "epochs must be a positive integer, not 0"
    assert errors["batch_size"] == "batch_size must be a positive integer, not -5"
    assert "[0, 1)" in errors["drop_path"]
    assert "unknown device 'tpu'" in errors["device"]
    assert "positive number" in errors["lr"]
    assert "true or false" in errors["auxiliary"]
    assert "unknown setting 'bogus'" in errors["bogus"]
    assert "positive integer" in errors["channels"] and "non-negative" in errors["seed"]
    too_few = get_space("darts").min_layers - 1
    with pytest.raises(ConfigError, match=f"at least {too_few + 1} layers") as info:
        validate_eval_config({"layers": too_few})
    assert set(info.value.errors) == {"layers"}
    assert validate_eval_config({"space": "nb201", "layers": 1}).layers == 1
    with pytest.raises(ConfigError, match="lr_min"):
        validate_eval_config({"lr": 0.01, "lr_min": 0.1})


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
