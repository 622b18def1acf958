"""Curvature of the validation loss in architecture space (RobustDARTS, Zela et al., ICLR 2020).

The dominant eigenvalue of the Hessian of the validation loss with respect to the
architecture parameters grows before DARTS collapses into parameter-free cells; the
Hessian's trace is a cheaper, noisier second signal.  Neither needs the Hessian itself:

* :class:`ArchHessian` is the Hessian as an operator ``v -> H v``, each product one
  double-backward pass per validation batch, for every optimizer that offers
  ``arch_parameters()`` and ``weights_from(alphas)`` (the supernet's weights as a
  differentiable function of the architecture parameters, see
  :class:`~nascore.optimizers.base.SearchOptimizer`).  All cell types' parameters are
  flattened into one vector, in ``arch_parameters()`` order.
* :func:`lanczos_max_eigenvalue` (default) and :func:`power_iteration` find the dominant
  eigenvalue from a handful of products, stopping at a relative tolerance or an iteration
  cap; :func:`hutchinson_trace` estimates the trace from Rademacher probes.

What makes epochs comparable and runs reproducible:

* the same validation examples every time: the first ``samples`` examples of the
  validation split in its fixed (unshuffled) order, cut into the run's batch size
  (:func:`fixed_subset`);
* the supernet in train mode, as the architecture step sees it: BatchNorm normalises with
  the statistics of each (fixed) batch.  This is the loss the architecture optimizer
  actually descends, and the mode RobustDARTS measured in.  Eval mode would measure a
  different function (BN running averages, which lag the architecture and, in DARTS's
  affine-free supernet, are a poor fit for the mixed ops); its Hessian says less about the
  search.  Running statistics are frozen during the computation, so it changes nothing in
  the model;
* random numbers from the computation's own ``torch.Generator`` (start and probe vectors),
  and the global RNG forked and reseeded identically before every forward pass (ops that
  draw noise, such as S4's ``noise``, see the same noise in every product, so the operator
  is one fixed symmetric matrix), then restored: a search with curvature on draws exactly
  the same random numbers as one with it off, and a resumed run recomputes identical values.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn

from nascore.settings import Settings, setting

Batch = tuple[Tensor, Tensor]
#: ``loss_fn(batch, alphas) -> scalar``: the mean loss on ``batch`` as a function of the architecture parameters
LossFn = Callable[[Batch, Sequence[Tensor]], Tensor]

METHODS = ("lanczos", "power")


class CurvatureSettings(Settings):
    """Tracking the dominant Hessian eigenvalue of the validation loss w.r.t. the architecture parameters."""

    title = "Curvature and early stopping (RobustDARTS)"
    group = "robust"

    curvature_every: int = setting(1, "Epochs between curvature points (the dominant Hessian eigenvalue); 0: off.",
                                   ge=0, hint="epochs between curvature points, 0 = off",
                                   source="RobustDARTS (Zela et al., ICLR 2020), section 4: every epoch", label='Curvature every N epochs (0 = off)')
    curvature_samples: int = setting(64, "The first N validation examples (in their fixed order) the curvature is "
                                         "measured on, in batches of batch_size.", gt=0, source="NASBoard's choice", label='Curvature examples')
    curvature_trace_samples: int = setting(4, "Rademacher probes of the Hutchinson trace estimate; 0: no trace.",
                                           ge=0, hint="probes, 0 = no trace", source="NASBoard's choice", label='Trace probes')



@dataclass
class CurvatureResult:
    """One curvature measurement: ``eigenvalue`` (dominant), ``trace`` (Hutchinson; None when not estimated)."""

    eigenvalue: float
    trace: float | None
    method: str
    iterations: int  # Hessian-vector products spent on the eigenvalue
    hvps: int  # all Hessian-vector products, the trace's included
    converged: bool
    samples: int  # validation examples the loss was taken over
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def frozen_batch_stats(model: nn.Module) -> Iterator[None]:
    """Train mode (BN normalises with batch statistics) without updating any running statistics."""
    was_training = model.training
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    model.train()
    for m in norms:
        m.track_running_stats = False  # F.batch_norm then gets no running buffers: batch statistics, no update
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True
        model.train(was_training)


class ArchHessian:
    """The Hessian of the mean loss over ``batches`` w.r.t. ``alphas`` (flattened), as an operator.

    ``loss_fn(batch, alphas)`` must be the mean loss of one batch; batches are weighted by
    their size, so the operator is the Hessian of the mean loss over all their examples.
    ``alphas`` are copied (detached): the live parameters and their ``.grad`` are never touched.
    ``rng_seed``: the global RNG is forked and reseeded with it before every forward pass, so
    stochastic ops give the same function in every product.  ``cache_graphs`` keeps each
    batch's first-derivative graph between products (one forward and backward per batch in all
    instead of one per product: faster, at the memory of every batch's double-backward graph).
    """

    def __init__(self, loss_fn: LossFn, alphas: Sequence[Tensor], batches: Sequence[Batch],
                 rng_seed: int | None = 0, cache_graphs: bool = False):
        if not alphas:
            raise ValueError("no architecture parameters: curvature needs an optimizer with continuous "
                             "architecture parameters")
        if not batches:
            raise ValueError("curvature needs at least one validation batch")
        self.loss_fn = loss_fn
        self.alphas = [a.detach().clone().requires_grad_(True) for a in alphas]
        self.shapes = [a.shape for a in self.alphas]
        self.sizes = [a.numel() for a in self.alphas]
        self.dim = sum(self.sizes)
        self.batches = list(batches)
        self.samples = sum(int(y.shape[0]) for _, y in self.batches)
        self.rng_seed = rng_seed
        self.cache_graphs = cache_graphs
        self._grads: list[tuple[Tensor, ...]] | None = None
        self.count = 0
        ref = self.alphas[0]
        self.device, self.dtype = ref.device, ref.dtype

    def _forked(self) -> Any:
        devices = [self.device] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    def _batch_grads(self, index: int, batch: Batch, create_graph: bool) -> tuple[Tensor, ...]:
        with self._forked():
            if self.rng_seed is not None:
                torch.manual_seed(self.rng_seed + index)
            loss = self.loss_fn(batch, self.alphas) * (int(batch[1].shape[0]) / self.samples)
            grads = torch.autograd.grad(loss, self.alphas, create_graph=create_graph, allow_unused=True)
        return tuple(torch.zeros_like(a) if g is None else g for a, g in zip(self.alphas, grads))

    def unflatten(self, v: Tensor) -> list[Tensor]:
        return [part.view(shape) for part, shape in zip(torch.split(v, self.sizes), self.shapes)]

    def gradient(self) -> Tensor:
        """The gradient of the mean loss (flattened)."""
        total = torch.zeros(self.dim, device=self.device, dtype=self.dtype)
        for i, batch in enumerate(self.batches):
            total += torch.cat([g.reshape(-1) for g in self._batch_grads(i, batch, False)])
        return total

    def __call__(self, v: Tensor) -> Tensor:
        """``H v`` for a flat vector ``v`` of length :attr:`dim`."""
        v = v.to(self.device, self.dtype)
        parts = self.unflatten(v)
        total = torch.zeros(self.dim, device=self.device, dtype=self.dtype)
        if self.cache_graphs and self._grads is None:
            self._grads = [self._batch_grads(i, b, True) for i, b in enumerate(self.batches)]
        for i, batch in enumerate(self.batches):
            grads = self._grads[i] if self.cache_graphs else self._batch_grads(i, batch, True)
            dot = sum((g * p).sum() for g, p in zip(grads, parts))
            if not dot.requires_grad:  # the loss does not depend on alphas at all on this batch
                continue
            with self._forked():
                if self.rng_seed is not None:
                    torch.manual_seed(self.rng_seed + i)
                hv = torch.autograd.grad(dot, self.alphas, retain_graph=self.cache_graphs, allow_unused=True)
            total += torch.cat([(torch.zeros_like(a) if h is None else h).reshape(-1) for a, h in zip(self.alphas, hv)])
        self.count += 1
        return total.detach()

    def dense(self) -> Tensor:
        """The full ``dim x dim`` Hessian, one product per unit vector (for checks and the benchmark)."""
        eye = torch.eye(self.dim, device=self.device, dtype=self.dtype)
        rows = torch.stack([self(eye[i]) for i in range(self.dim)])
        return 0.5 * (rows + rows.T)  # symmetric up to rounding


def _start_vector(dim: int, generator: torch.Generator, like: Tensor) -> Tensor:
    v = torch.randn(dim, generator=generator, dtype=torch.float64).to(like.device, like.dtype)
    return v / v.norm()


def power_iteration(hvp: Callable[[Tensor], Tensor], dim: int, generator: torch.Generator, *, tol: float = 1e-3,
                    max_iter: int = 50, like: Tensor | None = None) -> tuple[float, int, bool]:
    """The eigenvalue of largest magnitude by power iteration.

    Stops when the Rayleigh quotient changes by at most ``tol`` relative to its value
    between two iterations, or after ``max_iter`` products.  Returns (eigenvalue, products, converged).
    """
    like = like if like is not None else torch.zeros(())
    v = _start_vector(dim, generator, like)
    value, converged, steps = 0.0, False, 0
    for steps in range(1, max_iter + 1):
        w = hvp(v)
        new = float(torch.dot(v, w))
        norm = float(w.norm())
        if norm == 0.0:
            return 0.0, steps, True
        if steps > 1 and abs(new - value) <= tol * abs(new):
            value, converged = new, True
            break
        value = new
        v = w / norm
    return value, steps, converged


def lanczos_max_eigenvalue(hvp: Callable[[Tensor], Tensor], dim: int, generator: torch.Generator, *,
                           tol: float = 1e-3, max_iter: int = 50, like: Tensor | None = None) -> tuple[float, int, bool]:
    """The largest (algebraic) eigenvalue by the Lanczos method with full reorthogonalisation.

    After ``j`` products the largest Ritz value ``theta`` of the tridiagonal matrix and its
    residual ``beta_j * |s_j|`` (the norm of ``H y - theta y`` for its Ritz vector ``y``,
    a bound on ``|theta - lambda|``) are known; it stops once the residual is at most
    ``tol * |theta|``, when the Krylov space is exhausted, or after ``max_iter`` products.
    Far fewer products than power iteration for the same accuracy, and it returns the largest
    eigenvalue even when a negative one has a larger magnitude.  Returns (eigenvalue, products, converged).
    """
    like = like if like is not None else torch.zeros(())
    max_iter = min(max_iter, dim)
    q = _start_vector(dim, generator, like)
    basis = [q]
    diag: list[float] = []
    off: list[float] = []
    theta, converged, steps = 0.0, False, 0
    beta_prev, q_prev = 0.0, torch.zeros_like(q)
    for steps in range(1, max_iter + 1):
        w = hvp(q)
        a = float(torch.dot(q, w))
        w = w - a * q - beta_prev * q_prev
        Q = torch.stack(basis)
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - Q.T @ (Q @ w)
        beta = float(w.norm())
        diag.append(a)
        T = torch.diag(torch.tensor(diag, dtype=torch.float64))
        if off:
            o = torch.tensor(off, dtype=torch.float64)
            T += torch.diag(o, 1) + torch.diag(o, -1)
        evals, evecs = torch.linalg.eigh(T)
        theta = float(evals[-1])
        residual = beta * abs(float(evecs[-1, -1]))
        if residual <= tol * abs(theta) or beta <= 1e-12 * max(abs(theta), 1e-30) or steps == dim:
            converged = True
            break
        off.append(beta)
        q_prev, q, beta_prev = q, w / beta, beta
        basis.append(q)
    return theta, steps, converged


def hutchinson_trace(hvp: Callable[[Tensor], Tensor], dim: int, generator: torch.Generator, samples: int,
                     like: Tensor | None = None) -> float:
    """Hutchinson's estimate of the trace: the mean of ``z^T H z`` over ``samples`` Rademacher vectors ``z``."""
    like = like if like is not None else torch.zeros(())
    total = 0.0
    for _ in range(samples):
        z = (torch.randint(0, 2, (dim,), generator=generator, dtype=torch.int64) * 2 - 1).to(like.device, like.dtype)
        total += float(torch.dot(z, hvp(z)))
    return total / samples


def fixed_subset(batches: Iterable[Batch], samples: int, batch_size: int) -> list[Batch]:
    """The first ``samples`` examples of ``batches`` (a fixed order), re-cut into batches of ``batch_size``."""
    xs, ys, have = [], [], 0
    stream = iter(batches)
    try:
        for x, y in stream:
            take = min(int(y.shape[0]), samples - have)
            xs.append(x[:take])
            ys.append(y[:take])
            have += take
            if have >= samples:
                break
    finally:
        close = getattr(stream, "close", None)
        if close is not None:  # a generator over a DataLoader restores its stream's state when closed
            close()
    if not have:
        raise ValueError("the validation split is empty")
    x, y = torch.cat(xs), torch.cat(ys)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, have, batch_size)]


def arch_hessian(optimizer: Any, batches: Sequence[Batch], rng_seed: int | None = 0,
                 cache_graphs: bool = False) -> ArchHessian:
    """The :class:`ArchHessian` of a set-up search optimizer on ``batches``, network weights held fixed."""
    alphas = optimizer.arch_parameters()
    if not alphas:
        raise ValueError(f"the {optimizer.name} optimizer has no continuous architecture parameters")
    fixed = {name: p.detach() for name, p in optimizer.model.named_parameters()}  # no graph through the weights
    return ArchHessian(lambda batch, a: optimizer.arch_loss(batch, a, fixed), alphas, batches, rng_seed, cache_graphs)


def compute_curvature(optimizer: Any, batches: Sequence[Batch], *, seed: int = 0, method: str = "lanczos",
                      tol: float = 1e-3, max_iter: int = 50, trace_samples: int = 4,
                      cache_graphs: bool | None = None) -> CurvatureResult:
    """Dominant eigenvalue (and Hutchinson trace) of the validation-loss Hessian in architecture space.

    ``batches``: the fixed validation subset (:func:`fixed_subset`); ``seed`` fixes the start
    and probe vectors and the noise of stochastic ops.  ``cache_graphs`` (see :class:`ArchHessian`;
    the same values either way): by default on a CPU, where memory is plentiful and every saved pass
    counts, and on a GPU when the subset is one batch (then caching costs no extra peak memory).
    The model ends in the mode it started in, with the same weights, buffers and gradients; the
    global RNG is left as it was.
    """
    if method not in METHODS:
        raise ValueError(f"unknown curvature method {method!r}; choose one of: {', '.join(METHODS)}")
    if cache_graphs is None:
        cache_graphs = len(batches) == 1 or all(x.device.type == "cpu" for x, _ in batches)
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(int(seed))
    with frozen_batch_stats(optimizer.model):
        H = arch_hessian(optimizer, batches, rng_seed=int(seed) % (2**62), cache_graphs=cache_graphs)
        ref = H.alphas[0]
        find = lanczos_max_eigenvalue if method == "lanczos" else power_iteration
        eigenvalue, iterations, converged = find(H, H.dim, generator, tol=tol, max_iter=max_iter, like=ref)
        trace = hutchinson_trace(H, H.dim, generator, trace_samples, like=ref) if trace_samples > 0 else None
    if not math.isfinite(eigenvalue):
        converged = False
    return CurvatureResult(eigenvalue=eigenvalue, trace=trace, method=method, iterations=iterations, hvps=H.count,
                           converged=converged, samples=H.samples, seconds=time.perf_counter() - started)
