"""ProxylessNAS as the paper and the authors' code define it (mit-han-lab/proxylessnas): the zero op's edge is not
updated (search/modules/mix_op.py lines 210-214), the architecture optimizer is their Adam
(search/imagenet_arch_search.py lines 80-84), and the hardware-aware term of section 3.3, a component any
relaxation with architecture parameters can use."""
import pytest
import torch

from nascore.config import validate_config
from nascore.evaluation.measure import count_flops
from nascore.events import read_events
from nascore.ops import build_op
from nascore.optimizers.components.cost import additive, cost_table, edge_sites, expected_cost
from nascore.runner import run_search
from tests.nascore.support import tiny_optimizer


def _optimizer(name, space="darts", **cfg):
    return tiny_optimizer(name, space, **cfg)


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)


def test_an_edge_whose_active_path_is_none_is_not_updated():
    opt = _optimizer("proxyless", alpha_lr=0.1, alpha_beta1=0.5, alpha_weight_decay=1e-3)  # momentum, decay: both
    none = opt.space.ops.index("none")
    batch = _batch()
    for _ in range(2):  # the second step has Adam moments from the first, which must not move a skipped edge
        before = {ct: a.detach().clone() for ct, a in opt.alphas.items()}
        moments = {ct: opt.alpha_optimizer.state.get(a, {}).get("exp_avg_sq") for ct, a in opt.alphas.items()}
        moments = {ct: None if m is None else m.clone() for ct, m in moments.items()}
        state = opt.generator.get_state()
        pairs = opt.relaxation.sample_pairs()
        opt.generator.set_state(state)
        opt.relaxation.arch_step(batch)
        skipped = 0
        for ct, (active, _) in pairs.items():
            alpha = opt.alphas[ct]
            for row, col in enumerate(active):
                if col != none:
                    continue
                skipped += 1
                assert torch.equal(alpha.grad[row], torch.zeros_like(alpha.grad[row]))
                assert torch.equal(alpha.detach()[row], before[ct][row])
                if moments[ct] is not None:
                    assert torch.equal(opt.alpha_optimizer.state[alpha]["exp_avg_sq"][row], moments[ct][row])
            moved = [r for r, col in enumerate(active) if col != none]
            assert not torch.equal(alpha.detach()[moved], before[ct][moved])
        assert skipped, "the seeded draw should make none active on some edge"


def test_the_preset_uses_the_authors_architecture_adam_unless_the_config_says_otherwise():
    opt = _optimizer("proxyless")
    group = opt.alpha_optimizer.param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (1e-3, (0.0, 0.999), 1e-8, 0.0)
    darts = _optimizer("darts").alpha_optimizer.param_groups[0]
    assert (darts["lr"], darts["betas"], darts["weight_decay"]) == (3e-4, (0.5, 0.999), 1e-3)
    mine = _optimizer("proxyless", alpha_lr=0.05, alpha_beta1=0.9).alpha_optimizer.param_groups[0]
    assert (mine["lr"], mine["betas"], mine["weight_decay"]) == (0.05, (0.9, 0.999), 0.0)
    stored = validate_config({**validate_config({"optimizer": "darts"}).to_dict(), "optimizer": "proxyless"})
    assert stored.alpha_lr == 3e-4  # a config that states every setting keeps its meaning


@pytest.mark.parametrize("name", ["proxyless", "darts"])
def test_the_cost_terms_gradient_matches_finite_differences(name):
    opt = _optimizer(name, space="nb201", cost_penalty="additive", cost_model="flops", cost_weight=0.7)
    g = torch.Generator().manual_seed(3)
    opt.cost.table = {ct: torch.rand(m.shape, generator=g) * m for ct, m in opt.masks.items()}
    opt.cost.reference = 2.5
    with torch.no_grad():
        for a in opt.alphas.values():
            a.copy_(torch.randn(a.shape, generator=g))
    (grad,) = opt.cost_grads()
    alpha = opt.alphas["cell"].detach().double()
    mask, table = opt.masks["cell"], opt.cost.table["cell"].double()

    def term(a):
        p = torch.softmax(a.masked_fill(~mask, float("-inf")), -1)
        return additive(expected_cost({"cell": p}, {"cell": table}), 2.5, 0.7)

    eps = 1e-6
    numeric = torch.zeros_like(alpha)
    for idx in mask.nonzero().tolist():
        plus, minus = alpha.clone(), alpha.clone()
        plus[tuple(idx)] += eps
        minus[tuple(idx)] -= eps
        numeric[tuple(idx)] = (term(plus) - term(minus)) / (2 * eps)
    assert torch.allclose(grad.double(), numeric, atol=1e-5)
    p = torch.softmax(alpha.masked_fill(~mask, float("-inf")), -1)  # d/da_j sum_k p_k F_k = p_j (F_j - E)
    analytic = 0.7 / 2.5 * p * (table - (p * table).sum(-1, keepdim=True))
    assert torch.allclose(grad.double(), analytic, atol=1e-6)


def test_the_flops_table_counts_each_ops_macs_and_the_latency_table_has_the_same_support():
    opt = _optimizer("proxyless")
    ops, image = list(opt.space.ops), (1, 8, 8)
    flops = cost_table(opt.model, ops, opt.masks, image, "flops")
    latency = cost_table(opt.model, ops, opt.masks, image, "latency")
    for ct in ("normal", "reduce"):
        assert (flops[ct][:, ops.index("none")] == 0).all() and (latency[ct][:, ops.index("none")] == 0).all()
        assert (flops[ct][:, ops.index("max_pool_3x3")] == 0).all()  # no MACs in a pool
        candidates = opt.masks[ct].clone()
        candidates[:, ops.index("none")] = False
        assert (latency[ct][candidates] > 0).all() and (latency[ct][~candidates] == 0).all()
        assert (flops[ct][:, ops.index("sep_conv_5x5")] > flops[ct][:, ops.index("sep_conv_3x3")]).all()
    # a normal cell's edges all see the cell's own shape: one sep_conv_3x3 there, as count_flops counts it
    uniform = {ct: m.float() / m.sum(-1, keepdim=True) for ct, m in opt.masks.items()}
    shapes = {s.shape for s in edge_sites(opt.model, uniform, image) if s.cell_type == "normal"}
    assert len(shapes) == 1 and opt.model.cell_types.count("normal") == 1
    (normal_shape,) = shapes
    op = build_op("sep_conv_3x3", normal_shape[0], 1, True)
    assert flops["normal"][0, ops.index("sep_conv_3x3")] == count_flops(op, normal_shape)
    # the reduce cells' first two edges reduce (stride 2: FactorizedReduce has MACs), the others do not
    skip = ops.index("skip_connect")
    assert (flops["reduce"][:2, skip] > 0).all() and (flops["reduce"][2:, skip] >= 0).all()


def _final_cost(tmp_path, **cfg):
    config = {"dataset": "digits", "epochs": 3, "channels": 4, "layers": 3, "batch_size": 32, "steps_per_epoch": 8,
              "device": "cpu", "seed": 0, "curvature_every": 0, "select_samples": 0, "cost_penalty": "additive", **cfg}
    outcome = run_search(config, tmp_path)
    costs = [e for e in read_events(tmp_path / "events.jsonl") if e["type"] == "expected_cost"]
    assert [e["epoch"] for e in costs] == [0, 1, 2, 3]
    return costs[-1]["expected"] / costs[-1]["reference"], outcome.result


@pytest.mark.parametrize("space,method", [("darts", "proxyless"), ("nb201", "proxyless"), ("nb201", "darts")])
def test_a_larger_cost_weight_lowers_the_expected_latency(tmp_path, space, method):
    extra = {"layers": 1} if space == "nb201" else {}
    if method == "darts":
        extra["alpha_lr"] = 3e-3
    free, _ = _final_cost(tmp_path / "free", space=space, optimizer=method, cost_weight=0.0, **extra)
    costly, _ = _final_cost(tmp_path / "costly", space=space, optimizer=method, cost_weight=5.0, **extra)
    assert costly < free
    assert costly < 1.0  # below the uniform distribution's expected latency
