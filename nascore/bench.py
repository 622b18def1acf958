"""``python -m nascore bench``: time and peak memory of full search steps.

Each measurement runs on random 32x32x3 input with the standard search config, after a
few warm-up steps.  ``--impl naive`` measures the straightforward implementation of the
DARTS paper (a Python sum of w*op(x) over every op, the zero op included; a fresh copy of
the model for every unrolled step; full backward passes) so our figures have a baseline;
``--compare`` runs both in separate processes, since peak memory is per process.
``--curvature`` measures one curvature point of RobustDARTS instead (see :func:`measure_curvature`).
``--cost-compare`` measures a method (``--optimizer proxyless``) without and with ProxylessNAS's hardware-cost term
(``--cost-model``), each in its own process: step time, peak memory and the one-off cost table's seconds.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import resource
import subprocess
import sys
import time
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nascore.config import validate_config
from nascore.device import resolve_device
from nascore.networks.edges import EdgeFactory
from nascore.ops import build_search_op
from nascore.networks.layout import use_channels_last
from nascore.optimizers import get_optimizer
from nascore.optimizers.base import Batch, StepStats
from nascore.optimizers import DARTSOptimizer
from nascore.spaces import get_space


class NaiveMixedOp(nn.Module):
    """The paper's MixedOp as usually written: every op computed, the zero op too."""

    def __init__(self, op_names: Sequence[str], C: int, stride: int, all_ops: Sequence[str], pool_bn: bool):
        super().__init__()
        self.columns = [all_ops.index(n) for n in op_names]
        self.ops = nn.ModuleList(build_search_op(n, C, stride, pool_bn) for n in op_names)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(weights[c] * op(x) for c, op in zip(self.columns, self.ops))


class NaiveDARTS(DARTSOptimizer):
    """DARTS as the reference code does it: backward() through everything, model copies."""

    name = "naive-darts"

    def edge_factory(self) -> EdgeFactory:
        ops, pool_bn = self.space.ops, self.space.pool_bn
        return lambda names, C, stride: NaiveMixedOp(names, C, stride, ops, pool_bn)

    def step(self, train: Batch, val: Batch) -> StepStats:
        self.model.train()
        self.alpha_optimizer.zero_grad()
        if self.config.order == 2:
            self._naive_unrolled_backward(train, val)
        else:
            self.model.zero_grad()
            self.val_loss(val).backward()
        self.alpha_optimizer.step()
        x, y = train
        self.w_optimizer.zero_grad()
        logits = self.model(x, self.distribution())
        loss = F.cross_entropy(logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(self.weight_params, self.config.grad_clip)
        self.w_optimizer.step()
        return StepStats(float(loss.detach()), int((logits.argmax(1) == y).sum()), int(y.numel()))

    def _naive_unrolled_backward(self, train: Batch, val: Batch) -> None:
        lr = self.w_optimizer.param_groups[0]["lr"]
        x, y = train
        self.model.zero_grad()
        F.cross_entropy(self.model(x, self.distribution()), y).backward()
        unrolled = copy.deepcopy(self.model)
        with torch.no_grad():
            for w, w_new in zip(self.model.parameters(), unrolled.parameters()):
                buf = self.w_optimizer.state.get(w, {}).get("momentum_buffer")
                d = w.grad + self.config.w_weight_decay * w
                if buf is not None:
                    d = d + self.config.w_momentum * buf
                w_new.copy_(w - lr * d)
        for a in self.alphas.values():
            a.grad = None
        xv, yv = val
        F.cross_entropy(unrolled(xv, self.distribution()), yv).backward()
        d_alpha = [a.grad.clone() for a in self.alphas.values()]
        vector = [w.grad for w in unrolled.parameters()]
        eps = 1e-2 / torch.cat([v.reshape(-1) for v in vector]).norm()
        grads = []
        for sign in (1.0, -2.0):
            with torch.no_grad():
                for w, v in zip(self.model.parameters(), vector):
                    w.add_(sign * eps * v)
            for a in self.alphas.values():
                a.grad = None
            F.cross_entropy(self.model(x, self.distribution()), y).backward()
            grads.append([a.grad.clone() for a in self.alphas.values()])
        with torch.no_grad():
            for w, v in zip(self.model.parameters(), vector):
                w.add_(eps * v)
        for a, da, gp, gn in zip(self.alphas.values(), d_alpha, grads[0], grads[1]):
            a.grad = da - lr * (gp - gn) / (2 * eps)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(space: str, optimizer: str, order: int, channels: int, layers: int, batch: int, steps: int,
            device_name: str, impl: str = "ours", warmup: int = 2, seed: int = 0, cost_penalty: str | None = None,
            cost_model: str = "latency") -> dict[str, Any]:
    """Milliseconds per full search step and peak memory, for one implementation (and hardware-cost term)."""
    cfg = validate_config({"space": space, "optimizer": optimizer, "order": order, "channels": channels,
                           "layers": layers, "batch_size": batch, "device": device_name, "seed": seed,
                           "cost_penalty": cost_penalty, "cost_model": cost_model})
    device = resolve_device(device_name)
    torch.manual_seed(seed)
    space_obj = get_space(space)
    cls = NaiveDARTS if impl == "naive" else get_optimizer(optimizer)
    opt = cls(space_obj, cfg)
    model = space_obj.build_supernet(opt.edge_factory(), channels, layers, 3, 10).to(device)
    if impl != "naive" and cfg.channels_last:
        use_channels_last(model)
    opt.setup(model, device)

    def batch_pair() -> tuple[Batch, Batch]:
        mk = lambda: (torch.randn(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device))
        return mk(), mk()

    batches = [batch_pair() for _ in range(2)]
    table_ms = None
    if impl != "naive" and getattr(opt, "cost", None) is not None and opt.cost.active:
        _, table_ms = _timed(lambda: opt.prepare_cost((3, 32, 32)), device)  # once per run, not per step
    resident = peak_memory_mb(device)  # CPU: the process's peak before any step
    for i in range(warmup):
        opt.step(*batches[i % 2])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        resident = torch.cuda.memory_allocated(device) / 2**20  # weights, gradients, optimizer states
    start = time.perf_counter()
    for i in range(steps):
        opt.step(*batches[i % 2])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {"impl": impl, "space": space, "optimizer": optimizer, "order": order, "channels": channels,
            "layers": layers, "batch": batch, "steps": steps, "device": str(device),
            "threads": torch.get_num_threads(), "ms_per_step": round(1000 * elapsed / steps, 2),
            "peak_mem_mb": round(peak_memory_mb(device), 1),
            # what the steps add on top of what was resident before them (activations, mostly): the figure
            # that compares methods, free of the process's (CPU) or the model's (GPU) fixed share
            "step_mem_mb": round(peak_memory_mb(device) - resident, 1),
            "cost_penalty": getattr(getattr(opt, "recipe", None), "cost_penalty", None), "cost_model": cost_model,
            "cost_table_ms": None if table_ms is None else round(table_ms, 1)}


CURVATURE_DEFAULTS = {"channels": 8, "layers": 5, "batch": 32}
STEP_DEFAULTS = {"channels": 16, "layers": 8, "batch": 64}
#: CIFAR-10's training set split in halves for search, as DARTS does: the weight half has 25,000 images
SEARCH_SPLIT_EXAMPLES = 25_000


def _timed(fn: Any, device: torch.device) -> tuple[Any, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, 1000 * (time.perf_counter() - start)


def measure_curvature(space: str = "darts", channels: int = 8, layers: int = 5, batch: int = 32, image_size: int = 32,
                      in_channels: int = 3, search_steps: int = 3, warmup: int = 1, steps_per_epoch: int | None = None,
                      device_name: str = "auto", tol: float = 1e-3, max_iter: int = 50, trace_samples: int = 8,
                      full_method: str = "hvp", seed: int = 0) -> dict[str, Any]:
    """What one curvature point costs (RobustDARTS): the dominant eigenvalue of the validation-loss Hessian
    w.r.t. the architecture parameters by Lanczos (and by power iteration), against the full Hessian
    (``full_method``: one Hessian-vector product per parameter, ``hvp``, or ``torch.autograd.functional.hessian``,
    ``autograd``) and its exact largest eigenvalue, and against one epoch of first-order DARTS search
    (milliseconds per step times ``steps_per_epoch``, by default CIFAR-10's 25,000-image search half).

    Everything on one random ``batch`` of ``in_channels x image_size x image_size`` inputs, 10 classes,
    supernet in train mode with frozen BN statistics, as the runner measures it.
    """
    from nascore.curvature import arch_hessian, compute_curvature, frozen_batch_stats

    if full_method not in ("hvp", "autograd"):
        raise ValueError(f"--full-method must be hvp or autograd, not {full_method!r}")
    cfg = validate_config({"space": space, "optimizer": "darts", "channels": channels, "layers": layers,
                           "batch_size": batch, "device": device_name, "seed": seed})
    device = resolve_device(device_name)
    torch.manual_seed(seed)
    space_obj = get_space(space)
    opt = get_optimizer("darts")(space_obj, cfg)
    model = space_obj.build_supernet(opt.edge_factory(), channels, layers, in_channels, 10).to(device)
    if getattr(cfg, "channels_last", False):  # as the runner builds it
        use_channels_last(model)
    opt.setup(model, device)
    gen = torch.Generator().manual_seed(seed)
    mk = lambda: (torch.randn(batch, in_channels, image_size, image_size, generator=gen).to(device),  # noqa: E731
                  torch.randint(0, 10, (batch,), generator=gen).to(device))
    train, val = mk(), mk()
    with torch.no_grad():  # a supernet a little way into the search, not at its uniform start
        for a in opt.arch_parameters():
            a.copy_(0.5 * torch.randn(a.shape, generator=gen).to(device))
    batches = [val]
    dim = sum(a.numel() for a in opt.arch_parameters())

    compute_curvature(opt, batches, seed=seed, max_iter=2, trace_samples=0)  # warm-up
    res_l, ms_l = _timed(lambda: compute_curvature(opt, batches, seed=seed, method="lanczos", tol=tol,
                                                   max_iter=max_iter, trace_samples=0), device)
    res_p, ms_p = _timed(lambda: compute_curvature(opt, batches, seed=seed, method="power", tol=tol,
                                                   max_iter=max(max_iter, 200), trace_samples=0), device)

    def full() -> tuple[torch.Tensor, int]:
        with frozen_batch_stats(model):
            if full_method == "hvp":
                op = arch_hessian(opt, batches, rng_seed=seed, cache_graphs=True)
                return op.dense(), op.count
            shapes = [a.shape for a in opt.arch_parameters()]
            fixed = {n: p.detach() for n, p in model.named_parameters()}

            def loss(flat: torch.Tensor) -> torch.Tensor:
                parts = [p.view(s) for p, s in zip(torch.split(flat, [s.numel() for s in shapes]), shapes)]
                return opt.arch_loss(val, parts, fixed)

            flat = torch.cat([a.detach().reshape(-1) for a in opt.arch_parameters()])
            return torch.autograd.functional.hessian(loss, flat), dim

    (H, full_hvps), ms_full = _timed(full, device)
    exact = torch.linalg.eigvalsh(H.double().cpu())
    exact_max = float(exact[-1])
    exact_trace = float(torch.trace(H.double()))
    trace, ms_t = _timed(lambda: compute_curvature(opt, batches, seed=seed, max_iter=1, trace_samples=trace_samples),
                         device)

    step_ms = measure_step_ms(opt, train, val, search_steps, warmup, device)
    if steps_per_epoch is None:
        steps_per_epoch = math.ceil(SEARCH_SPLIT_EXAMPLES / batch)
        basis = f"CIFAR-10 search split: {SEARCH_SPLIT_EXAMPLES:,} weight-training images at batch {batch}"
    else:
        basis = f"{steps_per_epoch} steps of batch {batch} (given)"
    epoch_ms = step_ms * steps_per_epoch
    rel = lambda v: abs(v - exact_max) / abs(exact_max) if exact_max else float("nan")  # noqa: E731
    return {
        "space": space, "channels": channels, "layers": layers, "batch": batch, "input": [in_channels, image_size,
                                                                                          image_size],
        "device": str(device), "threads": torch.get_num_threads(), "arch_params": dim,
        "eigenvalue": {"method": "lanczos", "value": res_l.eigenvalue, "ms": round(ms_l, 1), "hvps": res_l.hvps,
                       "converged": res_l.converged, "tol": tol, "relative_error": rel(res_l.eigenvalue)},
        "power_iteration": {"value": res_p.eigenvalue, "ms": round(ms_p, 1), "hvps": res_p.hvps,
                            "converged": res_p.converged, "relative_error": rel(res_p.eigenvalue)},
        "full_hessian": {"method": full_method, "value": exact_max, "min_eigenvalue": float(exact[0]),
                         "ms": round(ms_full, 1), "hvps": full_hvps},
        "trace": {"samples": trace_samples, "value": trace.trace, "exact": exact_trace,
                  "ms": round(ms_t, 1), "hvps": trace.hvps},
        "speedup_vs_full_hessian": round(ms_full / ms_l, 2),
        "search_epoch": {"order": 1, "ms_per_step": round(step_ms, 1), "steps_per_epoch": steps_per_epoch,
                         "ms": round(epoch_ms, 1), "basis": basis},
        "cost_vs_search_epoch": round(ms_l / epoch_ms, 5),
    }


def measure_step_ms(opt: Any, train: Batch, val: Batch, steps: int, warmup: int, device: torch.device) -> float:
    """Milliseconds per search step of a set-up optimizer on fixed batches (after ``warmup`` steps)."""
    for _ in range(warmup):
        opt.step(train, val)

    def run() -> None:
        for _ in range(steps):
            opt.step(train, val)

    _, ms = _timed(run, device)
    return ms / steps


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One implementation's figures over several rounds: its fastest round (the one least slowed by
    other load on the machine) with the per-round times beside it; memory is the largest peak seen."""
    fastest = dict(min(runs, key=lambda r: r["ms_per_step"]))
    fastest["ms_per_step_rounds"] = [r["ms_per_step"] for r in runs]
    fastest["peak_mem_mb"] = max(r["peak_mem_mb"] for r in runs)
    fastest["step_mem_mb"] = max(r["step_mem_mb"] for r in runs)
    return fastest


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="darts", help="a built-in space, or a path to a space document")
    p.add_argument("--optimizer", default="darts")
    p.add_argument("--order", type=int, default=1, choices=(1, 2))
    p.add_argument("--channels", type=int, default=None, help="default 16 (8 with --curvature)")
    p.add_argument("--layers", type=int, default=None, help="default 8 (5 with --curvature)")
    p.add_argument("--batch", type=int, default=None, help="default 64 (32 with --curvature)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--impl", choices=("ours", "naive"), default="ours",
                   help="naive: the paper's straightforward implementation, as a baseline")
    p.add_argument("--compare", action="store_true", help="measure ours and naive, each in its own process")
    p.add_argument("--rounds", type=int, default=2,
                   help="--compare: alternating rounds of naive and ours; each reports its fastest round")
    p.add_argument("--json", action="store_true")
    h = p.add_argument_group("hardware-cost term (ProxylessNAS, section 3.3)")
    h.add_argument("--cost-penalty", default=None, help="the cost term of the measured method (default: its preset's)")
    h.add_argument("--cost-model", default="latency", choices=("latency", "flops"))
    h.add_argument("--cost-compare", action="store_true",
                   help="measure --optimizer without and with the cost term (additive), each in its own process")
    c = p.add_argument_group("curvature (RobustDARTS)")
    c.add_argument("--curvature", action="store_true",
                   help="cost of one dominant-eigenvalue computation against the full Hessian and a search epoch")
    c.add_argument("--image-size", type=int, default=32)
    c.add_argument("--tol", type=float, default=1e-3, help="relative tolerance of the eigenvalue methods")
    c.add_argument("--max-iter", type=int, default=50)
    c.add_argument("--trace-samples", type=int, default=8)
    c.add_argument("--steps-per-epoch", type=int, default=None,
                   help="search epoch length for the comparison (default: CIFAR-10's 25,000-image search half)")
    c.add_argument("--full-method", choices=("hvp", "autograd"), default="hvp",
                   help="full Hessian by one product per parameter, or torch.autograd.functional.hessian")
    d = p.add_argument_group("your own datasets (an image folder)")
    d.add_argument("--data", action="store_true",
                   help="build an image folder of --images PNGs in a temporary folder and time its check, its first "
                        "load (decoding every image) and a cached load")
    d.add_argument("--images", type=int, default=10000, help="--data: images in all (default 10,000)")
    d.add_argument("--data-classes", type=int, default=10, help="--data: classes (default 10)")
    d.add_argument("--data-size", type=int, default=32, help="--data: side of the square RGB images (default 32)")
    h = p.add_argument_group("hyperparameter studies (nascore hpo)")
    h.add_argument("--hpo", action="store_true",
                   help="joint studies on bundled tables over seeds, with and without Hyperband, beside the baselines")
    h.add_argument("--hpo-datasets", default="breast_cancer,wine", help="--hpo: comma-separated tables")
    h.add_argument("--hpo-seeds", type=int, default=5, help="--hpo: seeds per table (default 5)")
    h.add_argument("--hpo-trials", type=int, default=50, help="--hpo: trials per study (default 50)")
    h.add_argument("--hpo-min-epochs", type=int, default=2, help="--hpo: Hyperband's minimum epochs (default 2)")
    h.add_argument("--hpo-max-epochs", type=int, default=20, help="--hpo: epochs of an unpruned trial (default 20)")
    h.add_argument("--hpo-ensemble", type=int, default=None,
                   help="--hpo: also the Hyperband study's ensemble of its K best trials (Auto-PyTorch's)")
    t = p.add_argument_group("tabular benchmark (NAS-Bench-201)")
    t.add_argument("--table", action="store_true",
                   help="import and query speed, and the time of seeded black-box runs on the table")
    t.add_argument("--table-csv", default=None, help="a results file to time the import with: CSV, .pth, .pickle.pbz2 or a -simple "
                        "folder (else the stored table)")
    t.add_argument("--table-dataset", default="cifar10")
    t.add_argument("--table-store", default=None, help="store folder of the table (default $NASCORE_BENCHMARK_DIR)")
    t.add_argument("--table-runs", type=int, default=100, help="seeded runs per method")
    t.add_argument("--table-budget", type=int, default=150, help="queries per run")


def measure_data(images: int = 10000, classes: int = 10, size: int = 32) -> dict[str, Any]:
    """Seconds to check, first load (decode) and load again (cache) an image folder of ``images`` random RGB PNGs
    of ``size`` pixels in ``classes`` classes, built in a temporary folder (removed afterwards)."""
    import shutil
    import tempfile
    import time
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from nascore.data import load_dataset
    from nascore.userdata import check_dataset

    if images < 2 * classes or classes < 1 or size < 1:
        raise ValueError("--images must be at least twice --data-classes, both positive, and --data-size positive")
    data_dir = Path(tempfile.mkdtemp(prefix="nascore-bench-data-"))
    try:
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        for i in range(images):
            folder = data_dir / "bench" / f"class{i % classes:02d}"
            if i < classes:
                folder.mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
        built = time.perf_counter() - started
        started = time.perf_counter()
        summary = check_dataset("folder:bench", data_dir)
        check = time.perf_counter() - started
        started = time.perf_counter()
        train, test, _ = load_dataset("folder:bench", data_dir)
        first = time.perf_counter() - started
        started = time.perf_counter()
        load_dataset("folder:bench", data_dir)
        cached = time.perf_counter() - started
        cache_bytes = sum(f.stat().st_size for f in (data_dir / ".nasboard-cache").glob("*.pt"))
        folder_bytes = sum(f.stat().st_size for f in (data_dir / "bench").rglob("*.png"))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"images": images, "classes": classes, "size": size, "folder_mb": round(folder_bytes / 2**20, 1),
            "build_s": round(built, 2), "check_s": round(check, 3), "first_load_s": round(first, 3),
            "cached_load_s": round(cached, 3), "cache_mb": round(cache_bytes / 2**20, 1),
            "train": len(train), "test": len(test), "problems": len(summary["problems"])}


def run_from_args(args: argparse.Namespace) -> int:
    if args.hpo:
        from nascore.hpo.bench import measure_studies

        report = measure_studies(args.hpo_datasets.split(","), args.hpo_seeds, args.hpo_trials, args.hpo_min_epochs,
                                 args.hpo_max_epochs, ensemble=args.hpo_ensemble)
        print(json.dumps(report, indent=None if args.json else 2))
        return 0
    if args.data:
        print(json.dumps(measure_data(args.images, args.data_classes, args.data_size), indent=None if args.json else 2))
        return 0
    if args.table:
        from nascore.benchmarks.bench import measure_table

        report = measure_table(args.table_csv, args.table_dataset, args.table_store, args.table_runs,
                               args.table_budget)
        print(json.dumps(report, indent=None if args.json else 2))
        return 0
    for name, value in (CURVATURE_DEFAULTS if args.curvature else STEP_DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("channels", "layers", "batch", "steps"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be a positive integer, not {getattr(args, name)}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must not be negative, not {args.warmup}")
    if args.curvature:
        for name in ("image_size", "max_iter"):
            if getattr(args, name) <= 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, not {getattr(args, name)}")
        if args.trace_samples < 0 or not 0 < args.tol < 1:
            raise ValueError("--trace-samples must not be negative and --tol must lie strictly between 0 and 1")
        report = measure_curvature(args.space, args.channels, args.layers, args.batch, args.image_size,
                                   search_steps=args.steps, warmup=args.warmup, steps_per_epoch=args.steps_per_epoch,
                                   device_name=args.device, tol=args.tol, max_iter=args.max_iter,
                                   trace_samples=args.trace_samples, full_method=args.full_method)
    elif args.cost_compare:
        if args.rounds <= 0:
            raise ValueError(f"--rounds must be a positive integer, not {args.rounds}")
        found: dict[str, list[dict[str, Any]]] = {"none": [], "additive": []}
        for _ in range(args.rounds):  # alternate, so a load that comes and goes hits both alike
            for penalty in found:
                cmd = [sys.executable, "-m", "nascore", "bench", "--json", "--cost-penalty", penalty]
                for name in ("space", "optimizer", "order", "channels", "layers", "batch", "steps", "warmup",
                             "device", "cost_model"):
                    cmd += ["--" + name.replace("_", "-"), str(getattr(args, name))]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return done.returncode
                found[penalty].append(json.loads(done.stdout))
        without, with_cost = best_of(found["none"]), best_of(found["additive"])
        report = {"without_cost": without, "with_cost": with_cost, "rounds": args.rounds,
                  "time_ratio": round(with_cost["ms_per_step"] / without["ms_per_step"], 3),
                  "memory_ratio": round(with_cost["peak_mem_mb"] / without["peak_mem_mb"], 3)}
    elif args.compare:
        if args.rounds <= 0:
            raise ValueError(f"--rounds must be a positive integer, not {args.rounds}")
        runs: dict[str, list[dict[str, Any]]] = {"naive": [], "ours": []}
        for _ in range(args.rounds):  # alternate, so a load that comes and goes hits both alike
            for impl in ("naive", "ours"):
                cmd = [sys.executable, "-m", "nascore", "bench", "--json", "--impl", impl]
                for name in ("space", "optimizer", "order", "channels", "layers", "batch", "steps", "warmup",
                             "device"):
                    cmd += ["--" + name, str(getattr(args, name))]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return done.returncode
                runs[impl].append(json.loads(done.stdout))
        naive, ours = (best_of(runs[impl]) for impl in ("naive", "ours"))
        report = {"naive": naive, "ours": ours, "rounds": args.rounds,
                  "speedup": round(naive["ms_per_step"] / ours["ms_per_step"], 2),
                  "memory_ratio": round(ours["peak_mem_mb"] / naive["peak_mem_mb"], 3)}
    else:
        m = measure(args.space, args.optimizer, args.order, args.channels, args.layers, args.batch, args.steps,
                    args.device, args.impl, args.warmup, cost_penalty=args.cost_penalty, cost_model=args.cost_model)
        report = m if args.json else m
    print(json.dumps(report, indent=None if args.json else 2))
    return 0
