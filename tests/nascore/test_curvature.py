"""Curvature (RobustDARTS): Hessian-vector products, Lanczos / power iteration and Hutchinson's trace against
the exact Hessian on a tiny space; no side effects on the search; runner events and exact resume; bench."""
import json

import pytest
import torch

from nascore.config import validate_config
from nascore.curvature import (
    ArchHessian,
    arch_hessian,
    compute_curvature,
    fixed_subset,
    frozen_batch_stats,
    hutchinson_trace,
    lanczos_max_eigenvalue,
    power_iteration,
)
from nascore.events import read_events
from nascore.optimizers import get_optimizer
from nascore.optimizers.base import SearchOptimizer
from nascore.runner import run_search
from nascore.spaces import get_space
from tests.nascore.support import stop_after


def tiny_darts(space="s3", seed=0, n=8, batches=2):
    """DARTS on a 3-cell supernet with 2 channels, float64, random alphas, 8x8 one-channel input."""
    torch.manual_seed(seed)
    cfg = validate_config({"space": space, "channels": 2, "layers": 3, "device": "cpu"})
    sp = get_space(space)
    opt = get_optimizer("darts")(sp, cfg)
    model = sp.build_supernet(opt.edge_factory(), 2, 3, 1, 3).double()
    opt.setup(model, torch.device("cpu"))
    opt.alphas.double()
    with torch.no_grad():
        for a in opt.alphas.values():
            a.copy_(torch.randn_like(a))
    g = torch.Generator().manual_seed(seed + 1)
    data = [(torch.randn(n, 1, 8, 8, dtype=torch.float64, generator=g), torch.randint(0, 3, (n,), generator=g))
            for _ in range(batches)]
    return opt, data


def exact_hessian(opt, batches):
    """The Hessian of the size-weighted mean loss, written independently of ArchHessian: one forward,
    then one backward of each gradient entry (row-by-row double backward), in train-mode BN."""
    alphas = [a.detach().clone().requires_grad_() for a in opt.arch_parameters()]
    total = sum(int(y.shape[0]) for _, y in batches)
    with frozen_batch_stats(opt.model):
        loss = sum(opt.arch_loss(b, alphas) * (int(b[1].shape[0]) / total) for b in batches)
        grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, alphas, create_graph=True)])
        rows = [torch.cat([r.reshape(-1) for r in torch.autograd.grad(grad[i], alphas, retain_graph=True)])
                for i in range(grad.numel())]
    return torch.stack(rows)


@pytest.fixture(scope="module")
def problem():
    opt, batches = tiny_darts()
    H = exact_hessian(opt, batches)
    return opt, batches, H


def test_exact_hessian_is_symmetric_and_products_match_it(problem):
    opt, batches, H = problem
    assert H.shape == (84, 84)  # s3: 2 cell types x 14 edges x 3 ops
    assert torch.allclose(H, H.T, atol=1e-12)
    v = torch.randn(84, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for cache in (False, True):
        with frozen_batch_stats(opt.model):
            op = arch_hessian(opt, batches, cache_graphs=cache)
            hv = op(v)
            hv2 = op(2 * v)
        assert torch.allclose(hv, H @ v, rtol=1e-9, atol=1e-12)
        assert torch.allclose(hv2, 2 * hv, rtol=1e-9, atol=1e-12)
        assert op.count == 2 and op.samples == 16


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_dominant_eigenvalue_within_one_percent_of_eigvalsh(problem, method):
    opt, batches, H = problem
    evals = torch.linalg.eigvalsh(H)
    # power iteration finds the eigenvalue of largest magnitude, Lanczos the largest one; on this problem they agree
    assert evals[-1] > 0 and evals[-1] >= abs(evals[0])
    res = compute_curvature(opt, batches, seed=5, method=method, tol=1e-4, max_iter=84, trace_samples=0)
    assert abs(res.eigenvalue - float(evals[-1])) <= 0.01 * float(evals[-1])
    assert res.converged and res.trace is None and res.samples == 16
    assert res.hvps == res.iterations < 84  # cheaper than the full Hessian (84 products)
    if method == "lanczos":  # the residual bound makes it far tighter than 1%
        assert abs(res.eigenvalue - float(evals[-1])) <= 1e-6 * float(evals[-1])


@pytest.mark.parametrize("space", ["s3", "nb201"])
def test_lanczos_agrees_with_scipy_eigsh_on_the_same_hessian_vector_product(space):
    """ARPACK's implicitly restarted Lanczos (scipy.sparse.linalg.eigsh, which='LA') on a LinearOperator of
    the very products our Lanczos uses: both give the largest eigenvalue to well within the tolerance."""
    import numpy as np
    from scipy.sparse.linalg import LinearOperator, eigsh

    opt, batches = tiny_darts(space)
    with frozen_batch_stats(opt.model):
        op = arch_hessian(opt, batches, cache_graphs=True)
        matvec = lambda v: op(torch.from_numpy(np.asarray(v, dtype=np.float64).reshape(-1))).numpy()  # noqa: E731
        linear = LinearOperator((op.dim, op.dim), matvec=matvec, dtype=np.float64)
        reference = float(eigsh(linear, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0])
        ours = compute_curvature(opt, batches, seed=2, method="lanczos", tol=1e-6, max_iter=op.dim, trace_samples=0)
    assert ours.converged and ours.hvps < op.dim
    assert ours.eigenvalue == pytest.approx(reference, rel=1e-5)


def test_lanczos_finds_the_largest_eigenvalue_even_when_a_negative_one_dominates():
    D = torch.diag(torch.tensor([-5.0, -1.0, 0.5, 2.0, 3.0], dtype=torch.float64))
    Q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    A = Q @ D @ Q.T
    value, steps, converged = lanczos_max_eigenvalue(lambda v: A @ v, 5, torch.Generator().manual_seed(1),
                                                     tol=1e-10, like=A)
    assert converged and abs(value - 3.0) < 1e-8 and steps <= 5
    value, _, _ = power_iteration(lambda v: A @ v, 5, torch.Generator().manual_seed(1), tol=1e-12, max_iter=500, like=A)
    assert abs(value + 5.0) < 1e-6  # power iteration: largest magnitude


def test_hutchinson_trace(problem):
    opt, batches, H = problem
    exact = float(H.trace())
    off = H - torch.diag(torch.diagonal(H))
    # the Rademacher estimator is unbiased with variance 2 * (sum of squared off-diagonal entries) / samples;
    # this Hessian has eigenvalues of both signs, so its trace is small against that spread: many samples
    for samples in (100, 20000):
        std = (2 * float((off ** 2).sum()) / samples) ** 0.5
        estimate = hutchinson_trace(lambda v: H @ v, 84, torch.Generator().manual_seed(0), samples, like=H)
        assert abs(estimate - exact) < 4 * std
    assert abs(estimate - exact) < 0.02 * float(torch.linalg.eigvalsh(H).abs().sum())  # 2% of the nuclear norm
    # through Hessian-vector products: the same probes give the same value as with the exact matrix
    with frozen_batch_stats(opt.model):
        via_hvp = hutchinson_trace(arch_hessian(opt, batches, cache_graphs=True), 84, torch.Generator().manual_seed(7),
                                   6, like=H)
    via_matrix = hutchinson_trace(lambda v: H @ v, 84, torch.Generator().manual_seed(7), 6, like=H)
    assert via_hvp == pytest.approx(via_matrix, rel=1e-9, abs=1e-12)


def test_curvature_changes_nothing_and_is_deterministic(problem):
    opt, batches, _ = problem
    model = opt.model
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    alphas = [a.detach().clone() for a in opt.arch_parameters()]
    rng = torch.get_rng_state()
    a = compute_curvature(opt, batches, seed=11, max_iter=8, trace_samples=2)
    b = compute_curvature(opt, batches, seed=11, max_iter=8, trace_samples=2)
    assert (a.eigenvalue, a.trace) == (b.eigenvalue, b.trace)
    assert not model.training  # mode restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN running stats untouched
    assert all(torch.equal(x, y) for x, y in zip(alphas, opt.arch_parameters()))
    assert all(p.grad is None for p in model.parameters()) and all(p.grad is None for p in opt.arch_parameters())
    assert torch.equal(rng, torch.get_rng_state())


def test_stochastic_ops_see_the_same_noise_in_every_product():
    opt, batches = tiny_darts("s4", batches=1)  # S4 has a `noise` op drawing from the global RNG
    with frozen_batch_stats(opt.model):
        op = arch_hessian(opt, batches, rng_seed=3)
        v = torch.randn(op.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        w = torch.randn(op.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        assert torch.equal(op(v), op(v))
        assert float(w @ op(v)) == pytest.approx(float(v @ op(w)), rel=1e-9)  # one fixed symmetric operator


def test_errors_name_the_problem():
    opt, batches = tiny_darts(batches=1)
    with pytest.raises(ValueError, match="no architecture parameters"):
        ArchHessian(lambda b, a: 0, [], batches)
    with pytest.raises(ValueError, match="unknown curvature method"):
        compute_curvature(opt, batches, method="arnoldi")

    class NoAlphas(type(opt)):
        def arch_parameters(self):
            return []

    other = NoAlphas(opt.space, opt.config)
    other.model = opt.model
    with pytest.raises(ValueError, match="no continuous architecture parameters"):
        arch_hessian(other, batches)
    with pytest.raises(NotImplementedError, match="does not express its supernet weights"):
        SearchOptimizer.weights_from(opt, [])


def test_fixed_subset_is_the_first_examples_recut():
    x = torch.arange(10.0).view(10, 1)
    y = torch.arange(10)
    batches = fixed_subset([(x[:4], y[:4]), (x[4:8], y[4:8]), (x[8:], y[8:])], 7, 3)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b[1].tolist() for b in fixed_subset([(x, y)], 50, 4)][-1] == [8, 9]


# ---- the runner ----------------------------------------------------------------------------
RUN = {"space": "s3", "dataset": "digits", "epochs": 3, "channels": 4, "layers": 3, "batch_size": 32,
       "steps_per_epoch": 3, "device": "cpu", "seed": 1, "curvature_samples": 32, "curvature_trace_samples": 2}


def _curvature(events):
    return [(e["epoch"], e["eigenvalue"], e["trace"], e["round"]) for e in events if e["type"] == "curvature"]


def test_runner_emits_curvature_changes_nothing_else_and_resumes_exactly(tmp_path):
    full = run_search(RUN, tmp_path / "full")
    events = read_events(tmp_path / "full" / "events.jsonl")
    points = [e for e in events if e["type"] == "curvature"]
    assert [p["epoch"] for p in points] == [1, 2, 3]
    for p in points:
        assert p["eigenvalue"] > 0 and isinstance(p["trace"], float) and p["samples"] == 32
        assert p["method"] == "lanczos" and p["converged"] and p["hvps"] == p["iterations"] + 2
    # each curvature point comes after the epoch's genotype and before its checkpoint
    types = [e["type"] for e in events]
    assert types[types.index("curvature") - 1] == "genotype" and types[types.index("curvature") + 1] == "checkpoint"
    genotypes = [e for e in events if e["type"] == "genotype"]
    assert genotypes[-1]["skip_connections"]["normal"] == sum(op == "skip_connect" for op, _ in genotypes[-1]["genotype"]["normal"])
    assert set(genotypes[-1]["parameter_free"]) == {"normal", "reduce"}
    assert full.result["curvature"] == [{"epoch": e, "eigenvalue": v, "trace": t, "round": r} for e, v, t, r in _curvature(events)]
    assert full.result["early_stop"] is None and full.status == "finished"

    # measuring curvature draws no random numbers and moves no BN statistics: the search is the same without it
    off = run_search({**RUN, "curvature_every": 0}, tmp_path / "off").result
    assert off["alphas"] == full.result["alphas"] and off["metrics"] == full.result["metrics"]
    assert off["curvature"] == []

    stop_in_epoch_two = stop_after(RUN["steps_per_epoch"] + 1)
    part = run_search(RUN, tmp_path / "part", stop_check=stop_in_epoch_two)
    assert part.status == "cancelled" and part.result["epochs_completed"] == 1
    resumed = run_search(RUN, tmp_path / "part")
    assert resumed.status == "finished"
    for key in ("alphas", "genotype", "metrics", "curvature"):
        assert resumed.result[key] == full.result[key], key
    resumed_events = read_events(tmp_path / "part" / "events.jsonl")
    assert _curvature(resumed_events) == _curvature(events)
    assert [e["seq"] for e in resumed_events] == list(range(1, len(resumed_events) + 1))


def test_curvature_every_n_epochs(tmp_path):
    out = run_search({**RUN, "epochs": 2, "steps_per_epoch": 1, "curvature_every": 2, "curvature_trace_samples": 0},
                     tmp_path)
    points = _curvature(read_events(tmp_path / "events.jsonl"))
    assert [p[0] for p in points] == [2] and points[0][2] is None
    assert out.result["curvature"][0]["trace"] is None


def test_bench_curvature_reports_costs_and_equal_accuracy():
    from nascore.bench import measure_curvature

    report = measure_curvature(space="s2", channels=2, layers=3, batch=8, image_size=8, in_channels=1, search_steps=1,
                               steps_per_epoch=10, device_name="cpu", full_method="hvp")
    json.dumps(report)
    assert report["arch_params"] == 56
    eig, full = report["eigenvalue"], report["full_hessian"]
    assert full["hvps"] == 56 and eig["hvps"] < 56
    assert abs(eig["value"] - full["value"]) <= 0.01 * abs(full["value"])
    assert report["speedup_vs_full_hessian"] > 1
    assert report["search_epoch"]["ms"] > 0 and report["cost_vs_search_epoch"] > 0
