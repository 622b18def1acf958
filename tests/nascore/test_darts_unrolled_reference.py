"""Our second-order architecture gradient against the bench's naive port of the reference code
(quark0/darts, cnn/architect.py: a copy of the model for the unrolled weights, the finite-difference
Hessian-vector product by in-place perturbations of the model): same gradient, same batch-norm running statistics."""
import torch

from nascore.bench import NaiveDARTS
from nascore.config import validate_config
from nascore.optimizers import get_optimizer
from nascore.spaces import get_space


def _pair(seed: int = 0):
    cfg = validate_config({"space": "s3", "order": 2, "channels": 4, "layers": 3, "device": "cpu"})
    sp = get_space("s3")
    built = []
    for cls in (get_optimizer("darts"), NaiveDARTS):
        torch.manual_seed(seed)
        opt = cls(sp, cfg)
        model = sp.build_supernet(opt.edge_factory(), 4, 3, 1, 3).double()
        opt.setup(model, torch.device("cpu"))
        opt.alphas.double()
        built.append(opt)
    ours, naive = built
    # the naive edges hold the zero op too (no parameters): the same parameters in the same order
    with torch.no_grad():
        for (po, pn) in zip(ours.model.parameters(), naive.model.parameters()):
            assert po.shape == pn.shape
            pn.copy_(po)
        for ao, an in zip(ours.alphas.values(), naive.alphas.values()):
            ao.copy_(torch.randn_like(ao))
            an.copy_(ao)
    g = torch.Generator().manual_seed(seed + 1)
    make = lambda: (torch.randn(8, 1, 8, 8, dtype=torch.float64, generator=g),  # noqa: E731
                    torch.randint(0, 3, (8,), generator=g))
    return ours, naive, make(), make()


def _momentum_step(opt, train):
    """One plain weight step, so that the unrolled step has momentum buffers (same maths in both)."""
    opt.model.train()
    opt.w_optimizer.zero_grad()
    x, y = train
    torch.nn.functional.cross_entropy(opt.model(x, opt.distribution()), y).backward()
    opt.w_optimizer.step()


def test_unrolled_gradient_and_running_stats_equal_the_reference_port():
    ours, naive, train, val = _pair()
    for opt in (ours, naive):
        _momentum_step(opt, train)
        opt.model.train()
    with torch.no_grad():
        for po, pn in zip(ours.model.parameters(), naive.model.parameters()):
            assert torch.allclose(po, pn, rtol=0, atol=1e-12)
    grads = ours.unrolled_arch_grads(train, val)
    naive._naive_unrolled_backward(train, val)
    expected = [a.grad for a in naive.alphas.values()]
    scale = max(e.abs().max().item() for e in expected)
    assert scale > 0
    for got, want in zip(grads, expected):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
    # the weights are back where they were, and the running statistics saw the same passes (the train batch
    # three times: the virtual step and the two perturbed passes; not the validation batch on the copy)
    ours_bufs = dict(ours.model.named_buffers())
    naive_bufs = list(naive.model.named_buffers())
    assert len(ours_bufs) == len(naive_bufs)
    for (name, bo), (_, bn) in zip(ours_bufs.items(), naive_bufs):
        assert torch.allclose(bo.double(), bn.double(), rtol=1e-6, atol=1e-8), name
    for po, pn in zip(ours.model.parameters(), naive.model.parameters()):
        assert torch.allclose(po, pn, rtol=0, atol=1e-12)


def test_unrolled_pass_leaves_the_model_running_stats_to_the_train_batch():
    ours, _, train, val = _pair(seed=3)
    _momentum_step(ours, train)
    tracked = [b.clone() for n, b in ours.model.named_buffers() if n.endswith("num_batches_tracked")]
    ours.unrolled_arch_grads(train, val)
    after = [b for n, b in ours.model.named_buffers() if n.endswith("num_batches_tracked")]
    assert tracked and all(int(a) == int(t) + 3 for a, t in zip(after, tracked))
