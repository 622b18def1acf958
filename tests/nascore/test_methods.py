"""The other one-shot methods: their definitions on tiny inputs, learning on digits, determinism,
exact resume, combinations of components, and their validation messages."""
import math

import pytest
import torch
from torch.nn import functional as F

from nascore.config import ConfigError, validate_config
from nascore.networks.cells import CompiledCell, ScaledRows
from nascore.networks.partial import PartialChannelMixedOp, channel_shuffle
from nascore.networks.sampled import EdgeChoice, SampledRows, SinglePathOp
from nascore.optimizers import OPTIMIZERS, get_optimizer
from nascore.optimizers.components.controller import Controller, Reinforce
from nascore.optimizers.components.evolution import (
    RandomSampler,
    RegularizedEvolution,
    black_box_search,
)
from nascore.optimizers.components.gumbel import (
    gumbel_noise,
    hard_gumbel_sample,
    linear_tau,
)
from nascore.optimizers.components.perturb import Perturbation
from nascore.optimizers.components.regularizers import dirichlet_kl_to_uniform
from nascore.optimizers.components.sampling import generator_for
from nascore.optimizers.components.schedules import drop_path_rate
from nascore.runner import run_search
from nascore.spaces import get_space
from tests.nascore.support import stop_after, tiny_optimizer

NEW = ["gdas", "pcdarts", "proxyless", "drnas", "oneshot", "rsws", "spos", "enas", "re", "rs"]
DARTS_OPS = get_space("darts").ops


def test_every_method_is_registered():
    assert set(NEW) | {"darts"} <= set(OPTIMIZERS)
    kinds = {name: OPTIMIZERS[name].distribution_kind for name in NEW}
    assert kinds == {"gdas": "gumbel", "pcdarts": "softmax", "proxyless": "softmax", "drnas": "softmax",
                     "oneshot": "frequency", "rsws": "frequency", "spos": "frequency", "enas": "policy",
                     "re": "frequency", "rs": "frequency"}


# ---- GDAS: Gumbel-max with the straight-through estimator ------------------------------------

def _edge(stride=1, C=4, seed=0):
    torch.manual_seed(seed)
    edge = SinglePathOp(list(DARTS_OPS), C, stride, DARTS_OPS).double()
    return edge, torch.randn(3, C, 6, 6, dtype=torch.float64)


def test_gumbel_sample_is_hard_and_matches_the_sampled_op_exactly():
    edge, x = _edge()
    logits = torch.randn(1, len(DARTS_OPS), dtype=torch.float64)
    logits[0, DARTS_OPS.index("sep_conv_3x3")] += 10.0  # a conv is drawn, so the output depends on the weight
    logits.requires_grad_()
    mask = torch.ones(1, len(DARTS_OPS), dtype=torch.bool)
    noise = gumbel_noise((1, len(DARTS_OPS)), torch.Generator().manual_seed(3)).double()
    tau = 2.0
    hard, cols = hard_gumbel_sample(logits, mask, tau, noise)
    k = cols[0]
    assert DARTS_OPS[k] == "sep_conv_3x3"
    assert k == int((logits + noise).argmax())
    assert torch.equal(hard.detach(), F.one_hot(torch.tensor([k]), len(DARTS_OPS)).double())  # exactly one-hot
    edge.train()
    out = edge(x, SampledRows(cols, weights=hard)[0])
    assert torch.equal(out, edge.run(k, x))  # only the sampled op, bit for bit
    # straight-through: d out / d logits = d softmax((logits + g) / tau)[k] / d logits
    g_out = torch.randn_like(out)
    (grad,) = torch.autograd.grad(out, logits, g_out)
    p = F.softmax((logits.detach() + noise) / tau, dim=-1)[0]
    inner = (edge.run(k, x).detach() * g_out).sum()
    expected = inner * p[k] * (F.one_hot(torch.tensor(k), len(DARTS_OPS)).double() - p) / tau
    assert torch.allclose(grad[0], expected, rtol=1e-10, atol=1e-12)
    assert (grad[0] != 0).sum() > 1  # every logit gets a gradient


def test_gumbel_never_samples_a_masked_op_and_its_frequencies_follow_the_softmax():
    gen = torch.Generator().manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, -1.0, 2.0]])
    mask = torch.tensor([[True, True, False, True]])
    counts = torch.zeros(4)
    for _ in range(4000):
        _, cols = hard_gumbel_sample(logits, mask, 1.0, gumbel_noise((1, 4), gen))
        counts[cols[0]] += 1
    assert counts[2] == 0
    expected = F.softmax(logits.masked_fill(~mask, float("-inf")), -1)[0]
    assert torch.allclose(counts / counts.sum(), expected, atol=0.03)


def test_gdas_temperature_falls_linearly_from_tau_max_to_tau_min():
    assert linear_tau(10, 0.1, 0, 5) == 10 and linear_tau(10, 0.1, 4, 5) == pytest.approx(0.1)
    assert linear_tau(10, 0.1, 2, 5) == pytest.approx(5.05)


def test_none_and_reduction_paths_have_the_right_shape():
    edge, x = _edge(stride=2)
    for col in range(len(DARTS_OPS)):
        assert edge.run(col, x).shape == (3, 4, 3, 3)
    assert edge.run(DARTS_OPS.index("none"), x).abs().sum() == 0


# ---- PC-DARTS: partial channels, channel shuffle, edge normalisation ----------------------------

def test_channel_shuffle_interleaves_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


@pytest.mark.parametrize("stride", [1, 2])
def test_partial_channels_match_their_definition(stride):
    torch.manual_seed(0)
    C, k = 8, 4
    edge = PartialChannelMixedOp(list(DARTS_OPS), C, stride, DARTS_OPS, True, k).double().train()
    for op in edge.mixed.ops:  # the ops are built for C/K channels
        convs = [m for m in op.modules() if isinstance(m, torch.nn.Conv2d)]
        assert all(m.in_channels == C // k for m in convs)
    x = torch.randn(2, C, 6, 6, dtype=torch.float64)
    w = F.softmax(torch.randn(len(DARTS_OPS), dtype=torch.float64), -1)
    out = edge(x, w)
    through = edge.mixed(x[:, : C // k], w)
    bypass = x[:, C // k:] if stride == 1 else F.max_pool2d(x[:, C // k:], 2, 2)
    assert torch.equal(out, channel_shuffle(torch.cat([through, bypass], 1), k))
    # the bypassed channels reach the output unchanged (stride 1), at the shuffled positions
    if stride == 1:
        perm = channel_shuffle(torch.arange(C, dtype=torch.float64).view(1, C, 1, 1), k).flatten().long()
        for pos, src in enumerate(perm.tolist()):
            if src >= C // k:
                assert torch.equal(out[:, pos], x[:, src])


def test_edge_scale_multiplies_each_edge_before_the_node_sums():
    space = get_space("s3")
    graph = space.cell_graph("normal")
    torch.manual_seed(0)
    cell = CompiledCell(graph, 2, get_optimizer("darts")(space, validate_config({"space": "s3"})).edge_factory())
    cell.double().train()
    inputs = [torch.randn(2, 2, 4, 4, dtype=torch.float64) for _ in range(2)]
    w = F.softmax(torch.randn(14, 3, dtype=torch.float64), -1)
    scale = torch.rand(14, dtype=torch.float64)
    out = cell(inputs, ScaledRows(w, scale))
    states = {0: inputs[0], 1: inputs[1]}
    for node in range(2, 6):
        states[node] = sum(scale[r] * cell.edges[slot](states[src], w[r])
                           for src, slot in cell.plan[node - 2][1] for r in [cell.edge_rows[slot]])
    assert torch.allclose(out, torch.cat([states[n] for n in range(2, 6)], 1))


def _optimizer(name, space="s3", **cfg):
    return tiny_optimizer(name, space, **cfg)


def test_pcdarts_edge_weights_are_a_softmax_per_node_and_shape_the_derivation():
    opt = _optimizer("pcdarts")
    with torch.no_grad():
        opt.betas["normal"].copy_(torch.randn(14))
    scale = opt.forward_weights()["normal"].edge_scale
    for rows in opt.node_rows["normal"]:
        assert scale[rows].sum().item() == pytest.approx(1.0)
    # an edge whose beta dominates its node is the one kept
    with torch.no_grad():
        opt.alphas["normal"].zero_()
        opt.betas["normal"].zero_()
        opt.betas["normal"][opt.node_rows["normal"][0][1]] = 5.0  # node 2: the edge from node 1
    assert [src for _, src in opt.derive()["normal"][:2]][0] == 1


# ---- DrNAS ----------------------------------------------------------------------------------------

def test_dirichlet_kl_matches_torch_and_samples_stay_on_the_candidates():
    conc = torch.rand(5, 4) * 3 + 0.2
    full = torch.ones(5, 4, dtype=torch.bool)
    expected = torch.distributions.kl_divergence(torch.distributions.Dirichlet(conc),
                                                 torch.distributions.Dirichlet(torch.ones(5, 4))).sum()
    assert dirichlet_kl_to_uniform(conc, full).item() == pytest.approx(expected.item(), rel=1e-5)
    opt = _optimizer("drnas", space="s1")
    w = opt.sample_weights(opt.arch_parameters())
    for ct, rows in w.items():
        assert (rows[~opt.masks[ct]] == 0).all()
        assert torch.allclose(rows.sum(-1), torch.ones(rows.shape[0]))
    loss = sum(r[:, 0].sum() for r in w.values()) + opt.arch_regularizer()
    grads = torch.autograd.grad(loss, opt.arch_parameters())
    assert all(g.abs().sum() > 0 for g in grads)  # reparameterised: the gradient reaches alpha


# ---- ProxylessNAS ---------------------------------------------------------------------------------

def test_binary_gates_get_the_inner_products_of_both_sampled_paths():
    edge, x = _edge()
    edge.train()
    x.requires_grad_()
    a, b = DARTS_OPS.index("sep_conv_3x3"), DARTS_OPS.index("max_pool_3x3")
    gates = torch.zeros(len(DARTS_OPS), dtype=torch.float64, requires_grad=True)
    out = edge(x, EdgeChoice(index=a, gates=gates, other=b))
    with torch.no_grad():
        assert torch.equal(out, edge.run(a, x))
    g_out = torch.randn_like(out)
    gx, gg = torch.autograd.grad(out, [x, gates], g_out)
    with torch.no_grad():
        expected = torch.zeros_like(gates)
        expected[a] = (edge.run(a, x) * g_out).sum()
        expected[b] = (edge.run(b, x) * g_out).sum()
    assert torch.allclose(gg, expected)
    x2 = x.detach().requires_grad_()
    (ref,) = torch.autograd.grad(edge.run(a, x2), x2, g_out)
    assert torch.allclose(gx, ref)
    assert all(p.grad is None for p in edge.parameters())  # an architecture step trains no weight


def test_proxyless_step_moves_only_the_sampled_pair_and_keeps_its_total_probability():
    opt = _optimizer("proxyless", alpha_lr=0.1)
    batch = (torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,)))
    before = {ct: a.detach().clone() for ct, a in opt.alphas.items()}
    state = opt.generator.get_state()
    pairs = opt.relaxation.sample_pairs()
    opt.generator.set_state(state)
    opt.relaxation.arch_step(batch)
    for ct, (active, inactive) in pairs.items():
        after = opt.alphas[ct].detach()
        for row, (i, j) in enumerate(zip(active, inactive)):
            others = [c for c in range(after.shape[1]) if c not in (i, j)]
            assert torch.equal(after[row, others], before[ct][row, others])
            assert torch.logsumexp(after[row, [i, j]], 0) == pytest.approx(torch.logsumexp(before[ct][row, [i, j]], 0).item(), abs=1e-5)
        assert not torch.equal(after, before[ct])


# ---- SmoothDARTS perturbations ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "adversarial"])
def test_perturbations_stay_within_epsilon_and_on_the_simplex(kind):
    opt = _optimizer("darts", space="s1")
    batch = (torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,)))
    clean = opt.forward_weights()
    pert = Perturbation(kind, 0.3, steps=3)
    eps = pert.radius(5, 10)
    assert eps == pytest.approx(0.03 + (0.3 - 0.03) / 2)
    out = pert(opt.model, clean, opt.masks, batch, 5, 10)
    for ct, rows in out.items():
        assert torch.allclose(rows.sum(-1), torch.ones(rows.shape[0]))
        assert (rows[~opt.masks[ct]] == 0).all() and (rows >= 0).all()
        assert not torch.equal(rows, clean[ct]) or kind == "adversarial"
    if kind == "adversarial":  # never lowers the loss, measured as the attack measures it: in eval mode (issue 13)
        x, y = batch
        opt.model.eval()
        with torch.no_grad():
            assert F.cross_entropy(opt.model(x, out), y) >= F.cross_entropy(opt.model(x, clean), y)
        opt.model.train()


def test_drop_path_schedules():
    assert drop_path_rate(0.2, "constant", 0, 10) == 0.2
    assert drop_path_rate(0.2, "linear", 0, 10) == 0 and drop_path_rate(0.2, "linear", 9, 10) == pytest.approx(0.2)


# ---- ENAS and the black-box samplers -----------------------------------------------------------------

def test_enas_policy_gradient_points_towards_the_rewarded_op():
    torch.manual_seed(0)
    masks = {"cell": torch.ones(3, 4, dtype=torch.bool)}
    controller = Controller(masks, hidden=16)
    trainer = Reinforce(controller, lr=0.05, entropy_weight=0.0, baseline_decay=0.9)
    gen = torch.Generator().manual_seed(0)
    target = 2
    p0 = controller(greedy=True)[3]["cell"][:, target].mean().item()
    # one step: a positive advantage raises the log-probability of the sampled architecture
    trainer.baseline = 0.0
    arch, log_prob, entropy, _ = controller(gen)
    before = log_prob.item()
    assert trainer.update(log_prob, entropy, 1.0) > 0
    assert controller(actions=arch)[1].item() > before
    # ... and a reward below the baseline lowers it
    trainer.baseline = 1.0
    arch, log_prob, entropy, _ = controller(gen)
    before = log_prob.item()
    assert trainer.update(log_prob, entropy, 0.0) < 0
    assert controller(actions=arch)[1].item() < before
    trainer.baseline = None
    for _ in range(150):  # toy reward: the fraction of edges holding the target op
        arch, log_prob, entropy, _ = controller(gen)
        trainer.update(log_prob, entropy, sum(c == target for c in arch["cell"]) / 3)
    p1 = controller(greedy=True)[3]["cell"][:, target].mean().item()
    assert p1 > max(0.6, p0 + 0.3)
    assert controller(greedy=True)[0]["cell"] == [target] * 3


def _synthetic_table(seed, edges=6, ops=5):
    """A tabular benchmark of all ops**edges architectures: per-edge op scores plus interactions of
    neighbouring edges (a rugged but structured landscape); fitness looks the architecture up."""
    g = torch.Generator().manual_seed(1000 + seed)
    unary = torch.rand(edges, ops, generator=g)
    pair = torch.rand(edges - 1, ops, ops, generator=g) * 0.5
    table = torch.zeros([ops] * edges, dtype=torch.float64)
    for e in range(edges):
        table = table + unary[e].view([ops if i == e else 1 for i in range(edges)])
    for e in range(edges - 1):
        table = table + pair[e].view([ops if i in (e, e + 1) else 1 for i in range(edges)])
    best = float(table.max())
    return (lambda cols: float(table[tuple(cols)])), best


def test_regularized_evolution_finds_the_optimum_faster_than_random_search():
    masks = {"cell": torch.ones(6, 5, dtype=torch.bool)}  # 15,625 architectures
    budget = 1000
    found = {"re": [], "rs": []}
    for seed in range(10):
        fitness, best = _synthetic_table(seed)
        for name, make in (("rs", lambda g: RandomSampler(masks, g)),
                           ("re", lambda g: RegularizedEvolution(masks, g, population_size=20, sample_size=5))):
            sampler = make(generator_for(seed, name))
            hit = budget  # not found within the budget counts as the whole budget
            for i in range(budget):
                arch = sampler.ask()
                value = fitness(arch["cell"])
                sampler.tell(arch, value)
                if value >= best - 1e-12:
                    hit = i + 1
                    break
            found[name].append(hit)
    mean = {k: sum(v) / len(v) for k, v in found.items()}
    assert mean["re"] < 0.5 * mean["rs"], found
    assert sum(h < budget for h in found["re"]) >= 8 > sum(h < budget for h in found["rs"]) + 5, found


def test_samplers_resume_exactly():
    masks = {"cell": torch.ones(6, 5, dtype=torch.bool)}
    fitness, _ = _synthetic_table(0)
    a = RegularizedEvolution(masks, generator_for(0, "re"), population_size=5, sample_size=2)
    black_box_search(a, lambda arch: fitness(arch["cell"]), 12)
    b = RegularizedEvolution(masks, generator_for(1, "re"), population_size=5, sample_size=2)
    b.load_state_dict(a.state_dict())
    assert [a.ask() for _ in range(5)] == [b.ask() for _ in range(5)]


# ---- the methods in the runner -------------------------------------------------------------------------

LEARN = {"dataset": "digits", "epochs": 3, "channels": 8, "layers": 3, "batch_size": 32, "steps_per_epoch": 20,
         "device": "cpu", "seed": 0, "curvature_every": 0, "derive_samples": 8,
         "select_samples": 0}  # the search alone: the selection stage has its own tests (test_selection.py)
#: per method: space and settings of a short search on digits (single-path methods train with a larger lr)
LEARN_CASES = {
    "gdas": {"space": "s3", "w_lr": 0.1},
    "pcdarts": {"space": "s3", "warmup_epochs": 0},  # the preset's 15 warm-up epochs would outlast the run
    "proxyless": {"space": "s3", "w_lr": 0.1},
    "drnas": {"space": "s3"},
    "oneshot": {"space": "s3", "w_lr": 0.1, "drop_path": 0.2, "drop_path_schedule": "linear"},
    "rsws": {"space": "s3", "w_lr": 0.1},
    "spos": {"space": "s3", "w_lr": 0.1},
    "enas": {"space": "s3", "w_lr": 0.1, "controller_train_steps": 3, "controller_num_aggregate": 5},
    "re": {"space": "s3", "w_lr": 0.1, "eval_steps": 20, "population_size": 2, "tournament_size": 2},
    "rs": {"space": "s3", "w_lr": 0.1, "eval_steps": 20},
}


@pytest.mark.parametrize("name", NEW)
def test_each_method_learns_on_digits(name, tmp_path):
    result = run_search({**LEARN, "optimizer": name, **LEARN_CASES[name]}, tmp_path).result
    assert result["optimizer"] == name
    assert result["metrics"]["val_acc"] > 0.3, result["metrics"]  # chance is 0.1
    space = get_space(result["space"])
    space.parse_genotype(result["genotype"])
    for ct, rows in result["alphas"].items():
        assert len(rows) == len(space.edges(ct)) and all(abs(sum(r) - 1) < 1e-4 for r in rows)


def test_gdas_learns_on_nb201(tmp_path):
    cfg = {**LEARN, "optimizer": "gdas", "space": "nb201", "layers": 1, "w_lr": 0.1}
    result = run_search(cfg, tmp_path).result
    assert result["metrics"]["val_acc"] > 0.3
    get_space("nb201").parse_genotype(result["genotype"])


@pytest.mark.parametrize("name,perturb", [("darts", "random"), ("pcdarts", "adversarial")])
def test_a_perturbation_combines_with_different_methods(name, perturb, tmp_path):
    cfg = {**LEARN, "space": "s3", "optimizer": name, "epochs": 2, "steps_per_epoch": 15,
           "perturb": perturb, "perturb_steps": 2, "warmup_epochs": 0}
    plain = run_search({**cfg, "perturb": "none"}, tmp_path / "plain").result
    smooth = run_search(cfg, tmp_path / "smooth").result
    assert smooth["metrics"]["val_acc"] > 0.3
    assert smooth["alphas"] != plain["alphas"]  # the perturbation changed the search


TINY = {"space": "s3", "dataset": "digits", "epochs": 2, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 4, "device": "cpu", "seed": 1, "curvature_every": 0, "derive_samples": 4,
        "select_samples": 0}


@pytest.mark.parametrize("name", NEW)
def test_seeded_runs_are_deterministic_and_resume_exactly(name, tmp_path):
    extra = {"oneshot": {"drop_path": 0.3}, "re": {"eval_steps": 3, "population_size": 2, "tournament_size": 1},
             "rs": {"eval_steps": 3}, "enas": {"controller_train_steps": 3, "controller_num_aggregate": 4}}
    cfg = {**TINY, "optimizer": name, **extra.get(name, {})}
    a = run_search(cfg, tmp_path / "a").result
    stop_in_epoch_two = stop_after(TINY["steps_per_epoch"] + 2)
    part = run_search(cfg, tmp_path / "b", stop_check=stop_in_epoch_two)
    assert part.status == "cancelled"
    b = run_search(cfg, tmp_path / "b").result
    assert a["alphas"] == b["alphas"] and a["genotype"] == b["genotype"] and a["metrics"] == b["metrics"]
    c = run_search({**cfg, "seed": 2}, tmp_path / "c").result
    assert (c["alphas"], c["metrics"]) != (a["alphas"], a["metrics"])


# ---- validation -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings,field,words", [
    ({"optimizer": "gdas", "perturb": "random"}, "perturb", "continuous"),
    ({"optimizer": "rsws", "perturb": "adversarial"}, "perturb", "continuous"),
    ({"optimizer": "pcdarts", "channels": 6}, "pc_k", "multiple"),
    ({"optimizer": "gdas", "order": 2}, "order", "not available"),
    ({"optimizer": "darts", "drop_path": 0.2}, "drop_path", "oneshot"),
    ({"optimizer": "oneshot", "drop_path": 1.0}, "drop_path", "[0, 1)"),
    ({"optimizer": "oneshot", "drop_path_schedule": "cosine"}, "drop_path_schedule", "constant, linear"),
    ({"optimizer": "gdas", "tau_max": 1.0, "tau_min": 2.0}, "tau_min", "must not exceed"),
    ({"optimizer": "gdas", "tau_min": 0}, "tau_min", "positive"),
    ({"perturb": "pgd"}, "perturb", "none, random, adversarial"),
    ({"perturb": "random", "perturb_epsilon": 0}, "perturb_epsilon", "(0, 1]"),
    ({"optimizer": "spos", "derive_samples": 0}, "derive_samples", "positive"),
    ({"optimizer": "re", "population_size": 4, "tournament_size": 5}, "tournament_size", "must not exceed"),
    ({"optimizer": "re", "eval_steps": -1}, "eval_steps", "positive"),
])
def test_invalid_method_settings_are_rejected_with_a_reason(settings, field, words):
    with pytest.raises(ConfigError) as info:
        validate_config(settings)
    assert field in info.value.errors and words in info.value.errors[field]


def test_valid_method_settings_pass():
    for name in NEW:
        validate_config({"optimizer": name, "space": "nb201"})
    validate_config({"optimizer": "pcdarts", "perturb": "adversarial", "perturb_epsilon": 0.1})
    validate_config({"optimizer": "oneshot", "drop_path": 0.3, "drop_path_schedule": "linear"})


@pytest.mark.parametrize("name", NEW)
def test_bench_measures_every_method(name):
    from nascore.bench import measure

    row = measure("s3", name, 1, 4, 3, 4, steps=1, device_name="cpu", warmup=1)
    assert row["optimizer"] == name and row["ms_per_step"] > 0 and math.isfinite(row["peak_mem_mb"])


@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
def test_oneshot_sets_the_scheduled_drop_path_on_its_edges():
    opt = _optimizer("oneshot", drop_path=0.4, drop_path_schedule="linear", epochs=5)
    rates = lambda: {m.drop_prob for m in opt.model.modules() if isinstance(m, SinglePathOp)}  # noqa: E731
    assert rates() == {0.0}
    opt.end_epoch(0)
    opt.end_epoch(1)
    assert [round(r, 9) for r in rates()] == [0.2]
    state = opt.state_dict()
    other = _optimizer("oneshot", drop_path=0.4, drop_path_schedule="linear", epochs=5)
    other.load_state_dict(state)
    assert {round(m.drop_prob, 9) for m in other.model.modules() if isinstance(m, SinglePathOp)} == {0.2}
