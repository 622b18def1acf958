"""ProxylessNAS's hardware-aware term (Cai, Zhu and Han, ICLR 2019, section 3.3): the expected cost of the
architecture distribution, added to the architecture loss.

``E[cost] = sum over cell types, edges r and ops j of p_rj * F_rj``, where ``p`` is the relaxation's edge x op
distribution (differentiable in the architecture parameters) and ``F_rj`` the cost of op ``j`` on edge ``r``,
summed over every cell of that type in the supernet (each at its own input shape).  The paper's loss is
``CE + lambda * E[LAT]`` (eq. 4 with the weight decay left to the weights' optimizer); the authors' code
(``search/nas_manager.py``, ``add_regularization_loss``, ``add#linear``) divides by a reference value,
``lambda * (E - ref) / ref``; so does NASBoard, the reference being the expected cost of the uniform distribution
unless ``cost_reference`` is given, which makes ``lambda`` unit-free.

An op's cost ``F`` (``cost_model``): ``latency``, its forward time on the run's own device in milliseconds (one
image, median of a few timed runs after a warm-up, the stand-alone op at the edge's shape: what the derived
network would run), or ``flops``, its multiply-accumulates (convolutions and linear layers, as
:func:`~nascore.evaluation.measure.count_flops` counts them).  ``none`` costs nothing.  The table is measured
once per run, at the first architecture step, each distinct op and shape once, and kept in the method's state
so a resumed run uses the same costs.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from nascore.evaluation.measure import counting_macs
from nascore.networks.cells import CompiledCell
from nascore.optimizers.components.registry import override_setting, registry
from nascore.settings import Settings, setting

COST_PENALTIES = registry("cost_penalty", "Hardware cost", "cost_penalty",
                          "A hardware-cost term (expected latency or FLOPs) added to the architecture loss.")

#: forward passes timed per op and shape after as many untimed ones (NASBoard's choice: small, run once)
LATENCY_WARMUP = 2
LATENCY_REPEATS = 5
#: the unit of each cost model, as events and pages show it
UNITS = {"latency": "ms", "flops": "MACs"}


class CostPenaltySettings(Settings):
    """ProxylessNAS's expected-latency (or FLOPs) term in the architecture loss."""

    title = "Hardware cost (ProxylessNAS)"

    cost_penalty: str | None = override_setting(
        COST_PENALTIES, "Override the hardware-cost term of the architecture loss.",
        source="the method's preset (none for every method: the authors' code searches without a target hardware "
               "unless --target_hardware is given)")
    cost_model: str = setting("latency", "What an op costs: its latency measured on the run's device (ms, one "
                                         "image) or its multiply-accumulates (flops).",
                              choices=tuple(UNITS), label="Cost model",
                              source="ProxylessNAS (Cai et al., ICLR 2019), section 3.3: latency")
    cost_weight: float = setting(0.1, "lambda: weight of the expected cost, relative to the reference cost, in the "
                                      "architecture loss.", ge=0, label="Cost weight (lambda)",
                                 source="the authors' code (search/imagenet_arch_search.py: --grad_reg_loss_lambda "
                                        "0.1 for add#linear)")
    cost_reference: float | None = setting(None, "The cost the expected cost is divided by (ms for latency, MACs "
                                                 "for flops).", gt=0, label="Reference cost",
                                           none_means="the expected cost of the uniform distribution",
                                           source="the authors' code: ref_value, the target's cost (e.g. 80 ms on "
                                                  "mobile); NASBoard has no target, so the uniform distribution's")


@dataclass(frozen=True)
class EdgeSite:
    """One edge of one cell of the supernet: its cell type, row, stride and input shape (C, H, W)."""

    cell_type: str
    row: int
    stride: int
    shape: tuple[int, int, int]


def edge_sites(model: nn.Module, weights: dict[str, torch.Tensor], image: tuple[int, int, int]) -> list[EdgeSite]:
    """Every edge of every cell of ``model``, found by one forward pass of a zero image under ``weights``."""
    sites: list[EdgeSite] = []
    handles = []
    current: dict[str, Any] = {}

    def cell_hook(cell: CompiledCell, args: tuple[Any, ...]) -> None:
        rows = args[1] if len(args) > 1 else None
        current["type"] = next((ct for ct, w in weights.items() if rows is w), None)
        current["rows"] = cell.edge_rows

    def edge_hook(slot: int) -> Callable[..., None]:
        def hook(edge: nn.Module, args: tuple[Any, ...]) -> None:
            if current.get("type") is not None:
                shape = tuple(int(s) for s in args[0].shape[1:])
                sites.append(EdgeSite(current["type"], current["rows"][slot], int(getattr(edge, "stride", 1)),
                                      shape))  # type: ignore[arg-type]
        return hook

    for module in model.modules():
        if isinstance(module, CompiledCell):
            handles.append(module.register_forward_pre_hook(cell_hook))
            for slot, edge in enumerate(module.edges):
                handles.append(edge.register_forward_pre_hook(edge_hook(slot)))
    modes = {m: m.training for m in model.modules()}
    try:
        device = next(model.parameters()).device
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *image), device=device), {ct: w.to(device) for ct, w in weights.items()})
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode
    return sites


def op_flops(op: nn.Module, x: torch.Tensor) -> float:
    """Multiply-accumulates of ``op(x)``: convolutions and linear layers, as ``count_flops`` counts them."""
    with counting_macs(op) as counted, torch.no_grad():
        op(x)
    return float(counted[0])


def op_latency(op: nn.Module, x: torch.Tensor) -> float:
    """Median forward time of ``op(x)`` in milliseconds, after :data:`LATENCY_WARMUP` untimed runs."""
    cuda = x.device.type == "cuda"
    times = []
    with torch.no_grad():
        for i in range(LATENCY_WARMUP + LATENCY_REPEATS):
            if cuda:
                torch.cuda.synchronize(x.device)
            start = time.perf_counter()
            op(x)
            if cuda:
                torch.cuda.synchronize(x.device)
            if i >= LATENCY_WARMUP:
                times.append((time.perf_counter() - start) * 1e3)
    return float(statistics.median(times))


MEASURES: dict[str, Callable[[nn.Module, torch.Tensor], float]] = {"latency": op_latency, "flops": op_flops}


def cost_table(model: nn.Module, ops: list[str], masks: dict[str, torch.Tensor], image: tuple[int, int, int],
               cost_model: str) -> dict[str, torch.Tensor]:
    """Per cell type, edge x op: the cost of each candidate op summed over the cells of that type (0 for ``none``
    and for ops that are no candidate).  Each distinct (op, shape, stride) is built and measured once."""
    from nascore.ops import build_op

    device = next(model.parameters()).device
    uniform = {ct: F.softmax(torch.zeros(m.shape, device=device).masked_fill(~m, float("-inf")), -1)
               for ct, m in masks.items()}
    measure = MEASURES[cost_model]
    cache: dict[tuple[str, int, tuple[int, int, int]], float] = {}
    tables = {ct: torch.zeros(m.shape, dtype=torch.float64) for ct, m in masks.items()}
    for site in edge_sites(model, uniform, image):
        for col in masks[site.cell_type][site.row].nonzero().flatten().tolist():
            name = ops[col]
            if name == "none":
                continue
            key = (name, site.stride, site.shape)
            if key not in cache:
                op = build_op(name, site.shape[0], site.stride, True).to(device).eval()
                cache[key] = measure(op, torch.randn((1, *site.shape), device=device))
            tables[site.cell_type][site.row, col] += cache[key]
    return {ct: t.to(torch.float32) for ct, t in tables.items()}


def expected_cost(probs: dict[str, torch.Tensor], table: dict[str, torch.Tensor]) -> torch.Tensor:
    """``sum_ct sum_rj p_rj F_rj``: differentiable in ``probs``."""
    return sum(((p * table[ct].to(p.device, p.dtype)).sum() for ct, p in probs.items()),
               torch.zeros((), device=next(iter(probs.values())).device))


class CostTerm:
    """One run's hardware-cost term: the cost table, its reference and the penalty that combines them."""

    def __init__(self, penalty: str, config: Any):
        self.penalty = penalty
        self.model_name: str = getattr(config, "cost_model", "latency")
        self.weight = float(getattr(config, "cost_weight", 0.1))
        self.given_reference = getattr(config, "cost_reference", None)
        self.table: dict[str, torch.Tensor] | None = None
        self.reference: float | None = None

    @property
    def active(self) -> bool:
        return self.penalty != "none"

    @property
    def unit(self) -> str:
        return UNITS[self.model_name]

    def prepare(self, model: nn.Module, ops: list[str], masks: dict[str, torch.Tensor],
                image: tuple[int, int, int]) -> None:
        """Measure the cost table (once per run; a loaded state keeps its own)."""
        if not self.active or self.table is not None:
            return
        self.table = cost_table(model, ops, masks, image, self.model_name)
        uniform = {ct: F.softmax(torch.zeros(m.shape).masked_fill(~m.cpu(), float("-inf")), -1)
                   for ct, m in masks.items()}
        self.reference = float(self.given_reference) if self.given_reference else float(
            expected_cost(uniform, self.table))

    def expected(self, probs: dict[str, torch.Tensor]) -> torch.Tensor:
        assert self.table is not None, "the cost table is measured at the first architecture step"
        return expected_cost(probs, self.table)

    def loss(self, probs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The term added to the architecture loss: ``COST_PENALTIES[penalty](expected, reference, weight)``."""
        return COST_PENALTIES[self.penalty].impl(self.expected(probs), self.reference or 1.0, self.weight)

    def state_dict(self) -> dict[str, Any]:
        if self.table is None:
            return {}
        return {"cost_table": {ct: t.clone() for ct, t in self.table.items()}, "cost_reference": self.reference}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "cost_table" in state:
            self.table = {ct: t.detach().cpu().float() for ct, t in state["cost_table"].items()}
            self.reference = state["cost_reference"]


def additive(expected: torch.Tensor, reference: float, weight: float) -> torch.Tensor:
    """``lambda * E / ref``: the paper's eq. 4 term, as the authors' ``add#linear`` normalises it (their constant
    ``-lambda`` does not change the gradient and is left out)."""
    return weight * expected / reference


def no_cost(expected: torch.Tensor, reference: float, weight: float) -> torch.Tensor:
    return torch.zeros((), device=expected.device)


COST_PENALTIES.add("none", no_cost, "no hardware cost in the architecture loss",
                   "DARTS (Liu et al., ICLR 2019), section 2.2")
COST_PENALTIES.add("additive", additive, "lambda x expected latency (or FLOPs) / reference",
                   "ProxylessNAS (Cai, Zhu and Han, ICLR 2019), section 3.3, eq. 4", settings=(CostPenaltySettings,))


def cost_penalty_error(name: str, relaxation: type) -> str | None:
    """Why ``name`` cannot be added to ``relaxation``'s loss, or None."""
    if name != "none" and not relaxation.has_alphas:
        return (f"the {name} cost term is the expected cost of a per-edge distribution of architecture parameters; "
                f"the {relaxation.name} relaxation has none (use softmax, gumbel_*, dirichlet or binary_gates)")
    return None
