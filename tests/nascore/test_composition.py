"""One-shot methods as compositions of components: every preset reproduces what its method computed before
(tests/fixtures/before_composition), overrides compose new methods that learn, combinations that cannot work are
refused with their reason, and the components are listed."""
import json
from pathlib import Path

import pytest
import torch

from nascore.config import ConfigError, validate_config
from nascore.data import digits_split_indices, split_indices
from nascore.runner import run_search

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "before_composition" / "results.json").read_text())
#: presets whose results changed on purpose since, with why and what they compute now (record_since.py beside it)
SINCE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "before_composition" / "since.json").read_text())


def _config(label, space, tmp_path):
    case = FIXTURE["cases"][label]
    return {**FIXTURE["base"], "space": space, "layers": FIXTURE["layers"][space], **case["settings"],
            "data_dir": str(tmp_path / "data")}


#: one example of the search's validation half of digits' training split (what its accuracies count)
ONE_EXAMPLE = 1.0 / len(split_indices(len(digits_split_indices()[0]), 0.5, 0)[1]) + 1e-9


@pytest.mark.parametrize("label", sorted(FIXTURE["cases"]))
def test_each_preset_reproduces_the_method_it_replaced(label, tmp_path):
    for space in FIXTURE["layers"]:
        expected = SINCE[label][space] if label in SINCE else FIXTURE["cases"][label][space]
        config = _config(label, space, tmp_path)
        if "refused" in expected:
            with pytest.raises(ConfigError) as info:
                validate_config(config)
            assert info.value.errors == expected["refused"]
            continue
        result = run_search(config, tmp_path / f"{label}-{space}").result
        assert result["genotype"] == expected["genotype"], (label, space)
        for ct, rows in expected["alphas"].items():
            assert torch.allclose(torch.tensor(result["alphas"][ct]), torch.tensor(rows), rtol=1e-4, atol=1e-6), (label, space, ct)
        for key, value in expected["metrics"].items():
            # an accuracy may differ by one validation example: the recorded runs and this machine may round the
            # convolutions differently (AVX2 or AVX-512 kernels), and a digit on the boundary flips
            tolerance = ONE_EXAMPLE if key.endswith("acc") else 1e-6
            assert result["metrics"][key] == pytest.approx(value, rel=1e-4, abs=tolerance), (label, space, key)
        if label in SINCE:  # and it no longer computes what it did, as the change meant (its alphas, or its figures)
            before = FIXTURE["cases"][label][space]
            assert (result["alphas"], result["metrics"]) != (before["alphas"], before["metrics"]), (
                label, space, SINCE[label]["why"])


# ---- new compositions learn, on both space families, and resume exactly --------------------------------------------

LEARN = {"dataset": "digits", "epochs": 3, "channels": 8, "layers": 3, "batch_size": 32, "steps_per_epoch": 20,
         "device": "cpu", "seed": 0, "curvature_every": 0, "derive_samples": 8, "select_samples": 0, "space": "s3"}


@pytest.mark.parametrize("settings", [
    {"optimizer": "gdas", "partial_channels": 4},                                         # GDAS with partial channels
    {"optimizer": "drnas", "perturb": "adversarial", "perturb_steps": 1, "steps_per_epoch": 15},  # DrNAS, SDARTS-ADV
    {"optimizer": "pcdarts", "relaxation": "gumbel_hard", "w_lr": 0.1, "warmup_epochs": 0},  # PC-DARTS, Gumbel
    {"optimizer": "darts", "relaxation": "gumbel_soft", "partial_channels": 2},          # SNAS-like, partial channels
], ids=["gdas+pc", "drnas+sdarts-adv", "pcdarts+gumbel", "darts+gumbel_soft+pc"])
def test_new_compositions_learn_on_digits(settings, tmp_path):
    result = run_search({**LEARN, **settings}, tmp_path).result
    assert result["metrics"]["val_acc"] > 0.3, result["metrics"]  # chance is 0.1
    assert result["config"]["relaxation"] == settings.get("relaxation")  # the override is stored as given


TINY = {"dataset": "digits", "epochs": 2, "channels": 4, "batch_size": 8, "steps_per_epoch": 2, "device": "cpu",
        "seed": 1, "curvature_every": 0, "derive_samples": 3, "select_samples": 0}
SPACE_LAYERS = {"s3": 3, "nb201": 1}
#: every relaxation, and the other components, as compositions that did not exist before
COMPONENT_CASES = {
    "softmax": {"optimizer": "gdas", "relaxation": "softmax"},
    "gumbel_hard": {"optimizer": "darts", "relaxation": "gumbel_hard", "edge_normalization": True},
    "gumbel_soft": {"optimizer": "drnas", "relaxation": "gumbel_soft", "regularizer": "none", "perturb": "random"},
    "dirichlet": {"optimizer": "pcdarts", "relaxation": "dirichlet", "regularizer": "dirichlet_kl"},
    "binary_gates": {"optimizer": "darts", "relaxation": "binary_gates", "partial_channels": 2},
    "uniform": {"optimizer": "enas", "relaxation": "uniform", "derivation": "evolution", "partial_channels": 2},
    "all_paths": {"optimizer": "rsws", "relaxation": "all_paths", "drop_path": 0.2},
    "controller": {"optimizer": "spos", "relaxation": "controller", "derivation": "distribution"},
    "one-shot derivation of a learned relaxation": {"optimizer": "gdas", "derivation": "random_search"},
    "schedule": {"optimizer": "pcdarts", "warmup_epochs": 1, "arch_every": 2, "order": 2},
}


@pytest.mark.parametrize("space", sorted(SPACE_LAYERS))
@pytest.mark.parametrize("case", sorted(COMPONENT_CASES))
def test_each_component_runs_on_both_space_families(case, space, tmp_path):
    from nascore.spaces import get_space

    cfg = {**TINY, "space": space, "layers": SPACE_LAYERS[space], **COMPONENT_CASES[case]}
    result = run_search(cfg, tmp_path).result
    get_space(space).parse_genotype(result["genotype"])
    for rows in result["alphas"].values():
        assert all(abs(sum(r) - 1) < 1e-4 for r in rows)


def test_a_composed_method_resumes_exactly(tmp_path):
    from tests.nascore.support import stop_after

    cfg = {**TINY, "space": "s3", "layers": 3, "optimizer": "gdas", "partial_channels": 2, "edge_normalization": True,
           "arch_every": 2, "perturb": "none"}
    a = run_search(cfg, tmp_path / "a").result
    assert run_search(cfg, tmp_path / "b", stop_check=stop_after(3)).status == "cancelled"
    b = run_search(cfg, tmp_path / "b").result
    assert (a["alphas"], a["genotype"], a["metrics"]) == (b["alphas"], b["genotype"], b["metrics"])


# ---- the parts -----------------------------------------------------------------------------------------------------

def _optimizer(name, space="s3", **cfg):
    from nascore.optimizers import get_optimizer
    from nascore.spaces import get_space

    torch.manual_seed(0)
    config = validate_config({"space": space, "optimizer": name, "channels": 4, "layers": 3 if space != "nb201" else 1,
                              "device": "cpu", **cfg})
    sp = get_space(space)
    opt = get_optimizer(name)(sp, config)
    opt.setup(sp.build_supernet(opt.edge_factory(), 4, config.layers, 1, 10), torch.device("cpu"))
    return opt


def test_the_soft_gumbel_sample_has_the_gradient_of_its_definition():
    """SNAS's relaxed sample against finite differences (gradcheck), masked ops exactly zero."""
    from nascore.optimizers.components.gumbel import gumbel_noise, soft_gumbel_sample

    mask = torch.tensor([[True, True, False, True], [True, True, True, True]])
    noise = gumbel_noise((2, 4), torch.Generator().manual_seed(0)).double()
    logits = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    sample = soft_gumbel_sample(logits, mask, 0.7, noise)
    assert sample[0, 2] == 0 and torch.allclose(sample.sum(-1), torch.ones(2, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda a: soft_gumbel_sample(a, mask, 0.7, noise), (logits,))
    expected = torch.softmax((logits.detach().masked_fill(~mask, float("-inf")) + noise) / 0.7, -1)
    assert torch.allclose(sample, expected)


def test_the_composed_gradient_reaches_alphas_and_betas_through_a_hard_gumbel_sample():
    """PC-DARTS with Gumbel: the straight-through sample times the edge weights; the first-order gradient equals
    autograd's on the same sample (same noise), for every parameter."""
    opt = _optimizer("pcdarts", relaxation="gumbel_hard")
    batch = (torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)))
    state = opt.generator.get_state()
    grads = opt.first_order_arch_grads(batch)
    opt.generator.set_state(state)
    params = opt.arch_parameters()
    loss = torch.nn.functional.cross_entropy(opt.model(batch[0], opt.sample_weights(params)), batch[1])
    expected = torch.autograd.grad(loss, params)
    assert len(grads) == 4 and all(torch.allclose(g, e) and g.abs().sum() > 0 for g, e in zip(grads, expected))


def test_warm_up_and_every_n_steps_schedule_the_architecture_updates():
    opt = _optimizer("darts", warmup_epochs=1, arch_every=2, epochs=3)
    batch = (torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,)))
    alphas = lambda: [a.detach().clone() for a in opt.arch_parameters()]  # noqa: E731
    start = alphas()
    opt.step(batch, batch)
    opt.step(batch, batch)
    assert all(torch.equal(a, b) for a, b in zip(alphas(), start))  # epoch 0: weights only
    opt.end_epoch(0)
    changed = []
    for _ in range(4):
        before = alphas()
        opt.step(batch, batch)
        changed.append(not all(torch.equal(a, b) for a, b in zip(alphas(), before)))
    assert changed == [True, False, True, False]


def test_a_stored_darts_config_with_pc_k_does_not_use_partial_channels():
    from nascore.networks.partial import PartialChannelMixedOp

    darts = _optimizer("darts", pc_k=2)
    assert not any(isinstance(m, PartialChannelMixedOp) for m in darts.model.modules())
    gdas = _optimizer("gdas", partial_channels=2)
    assert any(isinstance(m, PartialChannelMixedOp) for m in gdas.model.modules())
    pcdarts = _optimizer("pcdarts", pc_k=2)
    assert {m.k for m in pcdarts.model.modules() if isinstance(m, PartialChannelMixedOp)} == {2}
    assert _optimizer("pcdarts", partial_channels=1).recipe.partial_channels == 1  # off by override


# ---- refusals ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings,field,words", [
    ({"optimizer": "darts", "relaxation": "gumbel_hard", "perturb": "adversarial"}, "perturb", "continuous"),
    ({"optimizer": "proxyless", "perturb": "random"}, "perturb", "continuous"),
    ({"optimizer": "drnas", "order": 2}, "order", "not available"),
    ({"optimizer": "darts", "relaxation": "gumbel_soft", "order": 2}, "order", "deterministic"),
    ({"optimizer": "gdas", "partial_channels": 3}, "partial_channels", "multiple of partial_channels (3)"),
    ({"optimizer": "pcdarts", "pc_k": 3}, "pc_k", "multiple of pc_k (3)"),
    ({"optimizer": "enas", "edge_normalization": True}, "edge_normalization", "edge normalisation"),
    ({"optimizer": "pcdarts", "relaxation": "controller"}, "relaxation", "edge normalisation"),
    ({"optimizer": "proxyless", "edge_normalization": True}, "edge_normalization", "own update rule"),
    ({"optimizer": "darts", "regularizer": "dirichlet_kl"}, "regularizer", "Dirichlet"),
    ({"optimizer": "drnas", "relaxation": "softmax", "regularizer": "dirichlet_kl"}, "regularizer", "Dirichlet"),
    ({"optimizer": "rsws", "derivation": "distribution"}, "derivation", "learns no distribution"),
    ({"optimizer": "darts", "derivation": "evolution"}, "derivation", "single-path edges"),
    ({"optimizer": "gdas", "derivation": "evolution", "edge_normalization": True}, "edge_normalization", "edge weights"),
    ({"optimizer": "gdas", "drop_path": 0.1}, "drop_path", "all_paths"),
    ({"optimizer": "rsws", "early_stop": "es"}, "early_stop", "no continuous architecture parameters"),
    ({"optimizer": "darts", "warmup_epochs": 10, "epochs": 10}, "warmup_epochs", "no architecture update"),
    ({"optimizer": "darts", "arch_every": 0}, "arch_every", "positive"),
    ({"optimizer": "darts", "relaxation": "sigmoid"}, "relaxation", "choose one of: softmax"),
])
def test_combinations_that_cannot_work_are_refused_with_the_reason(settings, field, words):
    with pytest.raises(ConfigError) as info:
        validate_config(settings)
    assert field in info.value.errors and words in info.value.errors[field], info.value.errors


def test_binary_gates_refuse_a_space_with_a_single_candidate_edge():
    from types import SimpleNamespace

    from nascore.optimizers.compatibility import composition_errors
    from nascore.optimizers.presets import PRESETS, resolve
    from nascore.spaces import get_space

    s1 = get_space("s1")
    narrow = SimpleNamespace(name="narrow", cell_types=s1.cell_types, default_channels=16,
                             op_mask=lambda ct: torch.eye(3, dtype=torch.bool))
    errors = composition_errors("darts", resolve(PRESETS["darts"], {"relaxation": "binary_gates"}), narrow, {})
    assert "single candidate op" in errors["relaxation"]
    assert composition_errors("proxyless", resolve(PRESETS["proxyless"], {}), s1, {}) == {}


# ---- the catalogue and the command line --------------------------------------------------------------------------

def test_components_json_lists_kinds_settings_and_presets(capsys):
    from nascore.cli import main
    from nascore.optimizers.presets import PRESETS

    assert main(["components", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["kinds"])[:3] == ["relaxation", "partial_channels", "edge_normalization"]
    relax = {c["name"]: c for c in info["kinds"]["relaxation"]["components"]}
    assert set(relax) == {"softmax", "gumbel_hard", "gumbel_soft", "dirichlet", "binary_gates", "uniform", "all_paths",
                          "controller"}
    assert "SNAS" in relax["gumbel_soft"]["paper"]
    assert relax["gumbel_hard"]["settings"]["tau_max"] == {
        "type": "number", "exclusiveMinimum": 0, "default": 10.0, "description": "Gumbel temperature at the first epoch.",
        "source": "GDAS (Dong and Yang, CVPR 2019), section 4.1: from 10"}
    override = info["kinds"]["relaxation"]["override"]
    assert override["nullable"] and override["default"] is None and "gumbel_hard for gdas" in override["none_means"]
    presets = {p["name"]: p for p in info["presets"]}
    assert set(presets) == set(PRESETS)
    assert presets["pcdarts"]["components"]["partial_channels_k"] == "pc_k"
    assert presets["drnas"]["components"]["regularizer"] == "none" and "DrNAS" in presets["drnas"]["paper"]  # issue 13
    assert main(["components"]) == 0
    text = capsys.readouterr().out
    assert "gumbel_soft" in text and "Presets:" in text and "PC-DARTS (Xu et al., ICLR 2020)" in text


def test_a_config_with_overrides_round_trips_through_the_cli_flags(tmp_path):
    from nascore.cli import build_parser, main
    from nascore.settings_cli import given_settings

    config = {"optimizer": "pcdarts", "relaxation": "gumbel_hard", "partial_channels": 2, "edge_normalization": False,
              "regularizer": "none", "derivation": "distribution", "warmup_epochs": 1, "arch_every": 2}
    flags = []
    for key, value in config.items():
        flag = "--" + key.replace("_", "-")
        flags += [flag] if value is True else [flag.replace("--", "--no-")] if value is False else [flag, str(value)]
    args = build_parser().parse_args(["search", *flags])
    assert given_settings(args, args.setting_names) == config
    out = tmp_path / "run"
    assert main(["search", *flags, "--space", "nb201", "--layers", "1", "--channels", "4", "--epochs", "2",
                 "--steps-per-epoch", "1", "--batch-size", "8", "--device", "cpu", "--curvature-every", "0",
                 "--select-samples", "0", "--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 0
    stored = json.loads((out / "result.json").read_text())["config"]
    assert {k: stored[k] for k in config} == config
