"""DARTS's architecture gradients against autograd on a tiny problem."""
import pytest
import torch

from nascore.config import validate_config
from nascore.optimizers import OPTIMIZERS, get_optimizer
from nascore.spaces import get_space


def tiny_darts(order, space="s3", seed=0):
    torch.manual_seed(seed)
    cfg = validate_config({"space": space, "order": order, "channels": 2, "layers": 3, "device": "cpu"})
    sp = get_space(space)
    opt = get_optimizer("darts")(sp, cfg)
    model = sp.build_supernet(opt.edge_factory(), 2, 3, 1, 3).double()
    opt.setup(model, torch.device("cpu"))
    with torch.no_grad():
        for a in opt.alphas.values():
            a.copy_(torch.randn_like(a))
    opt.alphas.double()
    make = lambda: (torch.randn(8, 1, 8, 8, dtype=torch.float64), torch.randint(0, 3, (8,)))
    return opt, make(), make()


def test_registry_and_unknown_name():
    assert "darts" in OPTIMIZERS
    with pytest.raises(KeyError, match="unknown optimizer 'dartz'"):
        get_optimizer("dartz")


def test_first_order_gradient_is_the_validation_gradient():
    opt, train, val = tiny_darts(1)
    grads = opt.first_order_arch_grads(val)
    alphas = list(opt.alphas.values())
    expected = torch.autograd.grad(opt._loss_with(opt._named_weights(), alphas, val), alphas)
    for g, e in zip(grads, expected):
        assert torch.allclose(g, e, rtol=1e-10, atol=1e-12)
        assert g.abs().sum() > 0


def exact_unrolled_gradient(opt, train, val):
    """d/da L_val(w - lr*(m*buf + dL_train/dw + wd*w), a), by double backward."""
    named = opt._named_weights()
    alphas = list(opt.alphas.values())
    lr = opt.w_optimizer.param_groups[0]["lr"]
    params = list(named.values())
    g = torch.autograd.grad(opt._loss_with(named, alphas, train), params, create_graph=True)
    unrolled = {}
    for (name, w), gw in zip(named.items(), g):
        buf = opt.w_optimizer.state.get(w, {}).get("momentum_buffer")
        d = gw + opt.config.w_weight_decay * w
        if buf is not None:
            d = d + opt.config.w_momentum * buf
        unrolled[name] = w - lr * d
    return torch.autograd.grad(opt._loss_with(unrolled, alphas, val), alphas)


def _max_abs(tensors):
    return torch.cat([t.flatten() for t in tensors]).abs().max().item()


def test_second_order_gradient_matches_double_backward():
    opt, train, val = tiny_darts(2)
    opt.weight_step(train)  # so that a momentum buffer takes part
    exact = exact_unrolled_gradient(opt, train, val)
    first = opt.first_order_arch_grads(val)
    correction = _max_abs([e - f for e, f in zip(exact, first)])
    assert correction > 1e-3  # the second-order term matters on this problem
    assert opt.hvp_r == 1e-2  # the paper's default step
    # the central difference converges to the exact Hessian-vector product: at a small step on this
    # piecewise-smooth (ReLU) network the error vanishes; at large steps ReLU kinks dominate it
    opt.hvp_r = 1e-5
    approx = opt.unrolled_arch_grads(train, val)
    assert _max_abs([a - e for a, e in zip(approx, exact)]) < 1e-6 * correction
    for a, e in zip(approx, exact):
        assert torch.allclose(a, e, rtol=1e-7, atol=1e-9)


def test_second_order_step_keeps_weights_unchanged_until_weight_step():
    opt, train, val = tiny_darts(2)
    before = {n: p.detach().clone() for n, p in opt._named_weights().items()}
    opt.unrolled_arch_grads(train, val)
    for n, p in opt._named_weights().items():
        assert torch.equal(before[n], p.detach()), n


@pytest.mark.parametrize("space", ["s3", "s2"])
def test_distribution_rows_sum_to_one_and_respect_masks(space):
    opt, _, _ = tiny_darts(1, space)
    for ct, probs in opt.distribution().items():
        assert torch.allclose(probs.sum(-1), torch.ones(probs.shape[0], dtype=probs.dtype))
        assert (probs[~opt.masks[ct]] == 0).all()
