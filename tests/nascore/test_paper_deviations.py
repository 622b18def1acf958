"""Issue 13: where the methods departed from their papers' reference code, they now follow it (each test cites the
reference file and line it pins), on both space families (DARTS-like: s3; NAS-Bench-201)."""
import json

import pytest
import torch
from torch import nn

from nascore.config import validate_config
from nascore.runner import run_search

SPACES = {"s3": 3, "nb201": 1}
LAYERS = {**SPACES, "darts": 3}
TINY = {"dataset": "digits", "channels": 4, "batch_size": 8, "steps_per_epoch": 2, "device": "cpu", "seed": 1,
        "curvature_every": 0, "derive_samples": 3, "select_samples": 0}


def _optimizer(name, space, **cfg):
    from nascore.optimizers import get_optimizer
    from nascore.spaces import get_space

    torch.manual_seed(0)
    config = validate_config({"space": space, "optimizer": name, "channels": 4, "layers": LAYERS[space],
                              "device": "cpu", **cfg})
    sp = get_space(space)
    opt = get_optimizer(name)(sp, config)
    opt.setup(sp.build_supernet(opt.edge_factory(), 4, config.layers, 1, 10), torch.device("cpu"))
    return opt


def _batch(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def _events(folder):
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


# ---- PC-DARTS: 15 warm-up epochs (yuhuixu1993/PC-DARTS train_search.py:156, ``if epoch>=15``) --------------------

def test_the_pcdarts_preset_warms_up_for_fifteen_epochs():
    from nascore.optimizers.components.update_schedule import warmup_warning

    opt = _optimizer("pcdarts", "s3")
    assert opt.recipe.warmup_epochs == 15
    assert _optimizer("darts", "s3").recipe.warmup_epochs == 0
    base = {"optimizer": "pcdarts", "epochs": 3}
    assert "first 15 epochs" in warmup_warning(base) and "set warmup_epochs below 3" in warmup_warning(base)
    assert warmup_warning({**base, "epochs": 16}) is None
    assert warmup_warning({**base, "warmup_epochs": 0}) is None  # an explicit choice: the settings' check judges it
    assert warmup_warning({"optimizer": "darts", "epochs": 3}) is None
    assert warmup_warning({"optimizer": "rsws", "epochs": 3, "warmup_epochs": None}) is None  # nothing to update


@pytest.mark.parametrize("space", SPACES)
def test_pcdarts_alphas_stay_during_the_warm_up_and_move_after(space, tmp_path):
    config = {**TINY, "optimizer": "pcdarts", "space": space, "layers": SPACES[space], "epochs": 2,
              "warmup_epochs": 1}
    run_search(config, tmp_path / "run")
    dists = {e["epoch"]: e["cells"] for e in _events(tmp_path / "run") if e["type"] == "arch"}
    assert dists[1] == dists[0]  # epoch 1: weights only
    assert dists[2] != dists[1]  # epoch 2: the architecture learns


@pytest.mark.parametrize("space", SPACES)
def test_a_pcdarts_run_within_its_warm_up_says_the_architecture_never_moves(space, tmp_path):
    config = {**TINY, "optimizer": "pcdarts", "space": space, "layers": SPACES[space], "epochs": 1}
    run_search(config, tmp_path / "run")
    events = _events(tmp_path / "run")
    warnings = [e["message"] for e in events if e["type"] == "log" and e["level"] == "warning"]
    assert len(warnings) == 1 and "first 15 epochs" in warnings[0], warnings
    dists = [e["cells"] for e in events if e["type"] == "arch"]
    assert dists[0] == dists[-1]


def test_the_cli_warns_before_a_pcdarts_run_within_its_warm_up(tmp_path, capsys):
    from nascore.cli import main

    assert main(["search", "--optimizer", "pcdarts", "--space", "nb201", "--layers", "1", "--channels", "4",
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8", "--curvature-every", "0",
                 "--out", str(tmp_path / "run")]) == 0
    assert "warning: the pcdarts preset trains only the weights for its first 15 epochs" in capsys.readouterr().err


# ---- DrNAS: L2 or KL, not both (xiangning-chen/DrNAS architect.py:17-22); genotype from softmax(alpha) --------------

@pytest.mark.parametrize("space", SPACES)
def test_drnas_uses_the_l2_penalty_by_default_and_the_kl_instead_of_it(space):
    default = _optimizer("drnas", space)
    assert default.recipe.regularizer == "none"  # the reference's default --reg_type l2 (train_search.py)
    assert default.alpha_optimizer.param_groups[0]["weight_decay"] == pytest.approx(1e-3)
    assert default.arch_regularizer() == 0.0
    kl = _optimizer("drnas", space, regularizer="dirichlet_kl")
    assert kl.alpha_optimizer.param_groups[0]["weight_decay"] == 0.0  # reg_type kl: Adam without weight decay
    with torch.no_grad():
        for a in kl.alphas.values():
            a.copy_(torch.linspace(-1, 2, a.numel()).view_as(a))
    assert kl.arch_regularizer().item() > 0
    # the DARTS optimizer keeps its weight decay
    assert _optimizer("darts", space).alpha_optimizer.param_groups[0]["weight_decay"] == pytest.approx(1e-3)


@pytest.mark.parametrize("space", ["darts", "nb201"])  # the DARTS space: eight ops, as the rows below assume
def test_drnas_reads_the_genotype_from_softmax_alpha(space):
    """DrNAS DARTS-space/model_search.py:251-254 and 201-space/search_model.py:106: ``genotype()`` parses
    ``process_step_matrix(alphas, 'softmax', mask)``.  On a DARTS node the softmax and the Dirichlet mean
    (elu + 1, normalised) can disagree on which two inputs to keep; the hand-set rows below make them disagree."""
    opt = _optimizer("drnas", space)
    top = 3  # skip_connect in both spaces (any op but none)
    rows = {"A": (2.0, 0.0), "B": (0.3, -1.5), "C": (0.5, -1.0)}  # (top op, every other op)
    with torch.no_grad():
        for ct, a in opt.alphas.items():
            a.zero_()
            if space == "darts":  # node 3's three inputs (rows 2, 3, 4): A, B, C
                for row, name in zip((2, 3, 4), "ABC"):
                    a[row].fill_(rows[name][1])
                    a[row, top] = rows[name][0]
            else:
                a.copy_(torch.linspace(-1, 2, a.numel()).view_as(a))
    alphas = [a.detach() for a in opt.alphas.values()]
    softmax = {ct: opt.relaxation.masked_softmax(ct, a) for ct, a in opt.alphas.items()}
    mean = opt.relaxation.weights_from(alphas)
    for ct in softmax:
        assert torch.allclose(opt.distribution()[ct], softmax[ct])
    assert opt.derive() == opt.space.derive(softmax)
    if space == "darts":
        assert opt.space.derive(mean) != opt.space.derive(softmax)  # the rows do discriminate
        inputs = sorted(src for _, src in opt.derive()["normal"][2:4])
        assert inputs == [0, 1]  # softmax keeps A and B; the Dirichlet mean would keep B and C


# ---- SDARTS-ADV: the attack in eval mode, projected outside autograd (SmoothDARTS attacker/perturb.py:11-44) --------

@pytest.mark.parametrize("space", SPACES)
def test_the_adversarial_perturbation_runs_in_eval_mode_and_projects_outside_autograd(space, monkeypatch):
    from nascore.optimizers.components import perturb

    opt = _optimizer("darts", space, perturb="adversarial", perturb_steps=3)
    model = opt.model
    model.train()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    x, y = _batch()
    model(x, opt.sample_weights([a.detach() for a in opt.arch_parameters()]))  # running stats away from their init
    stats = [(m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked)) for m in norms]
    modes, projections = [], []
    hook = model.register_forward_pre_hook(lambda m, args: modes.append(m.training))
    real_project = perturb.project

    def spy(rows, mask, fallback):
        projections.append((torch.is_grad_enabled(), rows.requires_grad))
        return real_project(rows, mask, fallback)

    monkeypatch.setattr(perturb, "project", spy)
    with torch.no_grad():
        weights = opt.sample_weights([a.detach() for a in opt.arch_parameters()])
    out = opt.perturbation(model, weights, opt.masks, (x, y), epoch=5, epochs=10)
    hook.remove()
    assert modes and not any(modes)  # every forward pass of the attack in eval mode (perturb.py:12-14)
    assert model.training  # ... and train mode back afterwards
    for m, (mean, var, n) in zip(norms, stats):
        assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var) and int(m.num_batches_tracked) == n
    assert projections and not any(grad or req for grad, req in projections)  # perturb.py:30-34, on .data
    for ct, w in out.items():
        rows = perturb.rows_of(w)
        assert rows.grad_fn is None and not rows.requires_grad
        assert torch.allclose(rows.sum(-1), torch.ones(rows.shape[0])) and (rows >= 0).all()  # clipped, renormalised


# ---- DARTS-ADA: the eigenvalues before a roll-back count (RobustDARTS train_search.py:272-274, utils.py:357) ---------

def _ada(space, tmp_path, keep):
    config = {**TINY, "optimizer": "darts", "space": space, "layers": SPACES[space], "epochs": 4,
              "curvature_every": 1, "curvature_samples": 16, "early_stop": "ada", "early_stop_window": 1,
              "early_stop_threshold": 1e9, "ada_max_increases": 2, "ada_keep_points": keep}
    out = tmp_path / f"{space}-{keep}"
    result = run_search(config, out).result
    return result, _events(out), config


@pytest.mark.parametrize("space", SPACES)
def test_darts_ada_keeps_the_eigenvalues_recorded_before_a_roll_back(space, tmp_path):
    result, events, config = _ada(space, tmp_path, keep=True)
    changes = [e for e in events if e["type"] == "regularization_change"]
    points = [e for e in events if e["type"] == "curvature"]
    # k = 1: epoch 2 triggers a roll-back to epoch 1; the point of epoch 1 stays, so the first new point (epoch 2
    # again) is compared with it at once and triggers the second increase
    assert [(c["trigger_epoch"], c["restored_epoch"]) for c in changes] == [(2, 1), (2, 1)]
    first, again = points[0], points[2]
    assert (first["epoch"], first["round"], again["epoch"], again["round"]) == (1, 0, 2, 1)
    assert again["earlier"] == pytest.approx(first["eigenvalue"])  # the decision read the pre-roll-back point
    kept = [(p["epoch"], p["round"]) for p in result["curvature"]]
    assert kept[0] == (1, 0) and [p["epoch"] for p in result["curvature"]] == [1, 2, 3, 4]
    assert sorted((p["epoch"], p["round"]) for p in result["curvature_discarded"]) == [(2, 0), (2, 1)]
    if space == "s3":  # stopped after the first roll-back, the run resumes to the same answer (its snapshots kept)
        from tests.nascore.support import stop_after

        part = tmp_path / "part"
        assert run_search(config, part, stop_check=stop_after(2 * TINY["steps_per_epoch"] + 1)).status == "cancelled"
        resumed = run_search(config, part).result
        for key in ("alphas", "genotype", "curvature", "curvature_discarded", "regularization"):
            assert resumed[key] == result[key], key


@pytest.mark.parametrize("space", SPACES)
def test_darts_ada_can_read_only_the_points_after_a_roll_back(space, tmp_path):
    _, events, _ = _ada(space, tmp_path, keep=False)
    changes = [e for e in events if e["type"] == "regularization_change"]
    # after the roll-back to epoch 1 the next decision needs two new points (epochs 2 and 3)
    assert [(c["trigger_epoch"], c["restored_epoch"]) for c in changes] == [(2, 1), (3, 2)]


# ---- ENAS: the controller learns after the weights' epoch (melodyguan/enas src/cifar10/main.py:276-291) ------------

@pytest.mark.parametrize("space", SPACES)
def test_the_enas_controller_learns_after_the_epoch_from_aggregated_samples(space):
    opt = _optimizer("enas", space, controller_train_steps=2, controller_num_aggregate=3)
    controller = opt.relaxation.controller
    before = [p.detach().clone() for p in controller.parameters()]
    for seed in range(3):
        opt.step(_batch(seed), _batch(seed + 10))
    assert all(torch.equal(a, b) for a, b in zip(before, controller.parameters()))  # not between weight steps
    drawn = []

    def next_val():
        drawn.append(len(drawn))
        return _batch(100 + len(drawn))

    opt.epoch_update(next_val)
    assert len(drawn) == 2 * 3  # one fresh validation batch per sample
    adam = opt.relaxation.reinforce.optimizer
    assert {int(s["step"]) for s in adam.state.values()} == {2}  # one Adam step per 3 aggregated samples
    assert not all(torch.equal(a, b) for a, b in zip(before, controller.parameters()))


def test_enas_uses_the_reference_reward_baseline_and_squashing():
    from nascore.optimizers.components.controller import AggregatedReinforce, Controller

    opt = _optimizer("enas", "nb201")
    # micro search script: 1.10 for input decisions, 1.10 / 2.5 for op decisions (micro_controller.py op_tanh)
    assert opt.relaxation.controller.tanh_constant == pytest.approx(1.1)
    assert opt.relaxation.controller.op_tanh_reduce == pytest.approx(2.5)
    assert opt.relaxation.controller.temperature == 1.0
    assert opt.relaxation.reinforce.optimizer.param_groups[0]["lr"] == pytest.approx(3.5e-3)
    controller = Controller({"cell": torch.ones(2, 3, dtype=torch.bool)}, hidden=8)
    trainer = AggregatedReinforce(controller, lr=0.1, entropy_weight=0.5, baseline_decay=0.9)
    _, log_prob, entropy, _ = controller(torch.Generator().manual_seed(0))
    advantage = trainer.add(log_prob, entropy, 1.0, 1)
    reward = 1.0 + 0.5 * entropy.item()  # micro_controller.py:237-238: the entropy bonus is in the reward
    assert trainer.baseline == pytest.approx(0.1 * reward)  # from 0, moved before use (lines 241-246)
    assert advantage == pytest.approx(reward - 0.1 * reward)


@pytest.mark.parametrize("space", SPACES)
def test_an_enas_run_trains_the_controller_once_per_epoch(space, tmp_path):
    config = {**TINY, "optimizer": "enas", "space": space, "layers": SPACES[space], "epochs": 2,
              "controller_train_steps": 2, "controller_num_aggregate": 2}
    run_search(config, tmp_path / "run")
    from nascore import checkpoint

    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")["optimizer"]["reinforce"]
    assert {int(s["step"]) for s in state["optimizer"]["state"].values()} == {4}  # 2 epochs x 2 steps


def test_enas_refuses_an_arch_every_it_would_ignore():
    from nascore.config import ConfigError

    with pytest.raises(ConfigError) as info:
        validate_config({"optimizer": "enas", "space": "nb201", "arch_every": 2})
    assert "once per epoch" in info.value.errors["arch_every"]
