"""``python -m nascore bench``: time and peak memory of full search steps.

Each measurement runs on random 32x32x3 input with the standard search config, after a
few warm-up steps.  ``--impl naive`` measures the straightforward implementation of the
DARTS paper (a Python sum of w*op(x) over every op, the zero op included; a fresh copy of
the model for every unrolled step; full backward passes) so our figures have a baseline;
``--compare`` runs both in separate processes, since peak memory is per process.
"""
from __future__ import annotations

import argparse
import copy
import json
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
from nascore.optimizers import get_optimizer
from nascore.optimizers.base import Batch, StepStats
from nascore.optimizers.darts import DARTSOptimizer
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
            device_name: str, impl: str = "ours", warmup: int = 2, seed: int = 0) -> dict[str, Any]:
    """Milliseconds per full search step and peak memory, for one implementation."""
    cfg = validate_config({"space": space, "optimizer": optimizer, "order": order, "channels": channels,
                           "layers": layers, "batch_size": batch, "device": device_name, "seed": seed})
    device = resolve_device(device_name)
    torch.manual_seed(seed)
    space_obj = get_space(space)
    cls = NaiveDARTS if impl == "naive" else get_optimizer(optimizer)
    opt = cls(space_obj, cfg)
    model = space_obj.build_supernet(opt.edge_factory(), channels, layers, 3, 10).to(device)
    opt.setup(model, device)

    def batch_pair() -> tuple[Batch, Batch]:
        mk = lambda: (torch.randn(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device))
        return mk(), mk()

    batches = [batch_pair() for _ in range(2)]
    for i in range(warmup):
        opt.step(*batches[i % 2])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for i in range(steps):
        opt.step(*batches[i % 2])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {"impl": impl, "space": space, "optimizer": optimizer, "order": order, "channels": channels,
            "layers": layers, "batch": batch, "steps": steps, "device": str(device),
            "threads": torch.get_num_threads(), "ms_per_step": round(1000 * elapsed / steps, 2),
            "peak_mem_mb": round(peak_memory_mb(device), 1)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="darts")
    p.add_argument("--optimizer", default="darts")
    p.add_argument("--order", type=int, default=1, choices=(1, 2))
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--impl", choices=("ours", "naive"), default="ours",
                   help="naive: the paper's straightforward implementation, as a baseline")
    p.add_argument("--compare", action="store_true", help="measure ours and naive, each in its own process")
    p.add_argument("--json", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    for name in ("channels", "layers", "batch", "steps"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be a positive integer, not {getattr(args, name)}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must not be negative, not {args.warmup}")
    if args.compare:
        rows = []
        for impl in ("naive", "ours"):
            cmd = [sys.executable, "-m", "nascore", "bench", "--json", "--impl", impl]
            for name in ("space", "optimizer", "order", "channels", "layers", "batch", "steps", "warmup", "device"):
                cmd += ["--" + name, str(getattr(args, name))]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            rows.append(json.loads(done.stdout))
        naive, ours = rows
        report = {"naive": naive, "ours": ours,
                  "speedup": round(naive["ms_per_step"] / ours["ms_per_step"], 2),
                  "memory_ratio": round(ours["peak_mem_mb"] / naive["peak_mem_mb"], 3)}
    else:
        m = measure(args.space, args.optimizer, args.order, args.channels, args.layers, args.batch, args.steps,
                    args.device, args.impl, args.warmup)
        report = m if args.json else m
    print(json.dumps(report, indent=None if args.json else 2))
    return 0
