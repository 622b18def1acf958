"""Choosing the final architecture after a one-shot search: sample many, rank with the one-shot weights, retrain
the best few from scratch, keep the best of those.

One-shot weights are a cheap but biased judge (Bender et al., 2018; Li and Talwalkar, 2019; Yu et al., 2020):
the stage measures how far they can be trusted.  After the search,

1. **sample** M = ``select_samples`` distinct architectures: the method's own derived architecture first, then
   draws from the method's own distribution (:data:`SAMPLERS`, by the kind of distribution it reports: the
   space's uniform draw for the single-path methods, the controller's policy for ENAS, both of them architectures
   of the space (DARTS: two inputs per node) taken as they are; the edge x op distribution for the continuous
   methods, one op per edge, of which a space whose cells keep a few edges per node (DARTS) keeps edges drawn
   uniformly among those whose op is not ``none``);
2. **rank** them by accuracy (then loss) on the whole validation split with the one-shot weights, each edge
   running the op it chose and the left-out edges contributing nothing, BatchNorm on batch statistics;
3. **retrain** the top K = ``select_top_k`` from scratch for ``select_epochs`` epochs on the search's train split
   (same initial seed and batches for each), scored on the validation split
   (:func:`~nascore.evaluation.split_training.train_on_search_split`); the test set is never read;
4. **choose** the best stand-alone validation accuracy (then the lower loss, then the better one-shot rank).

Kendall's tau-b and Spearman's rho between the one-shot and the stand-alone accuracies of the K retrained say
how well the one-shot ranking predicts the stand-alone one; near zero or negative, the one-shot model misleads.
Everything draws from generators seeded by the run's seed and reads the splits in fixed orders, so the stage is
deterministic and a run resumed after the search (from its final checkpoint) redoes it to the same result.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch
from torch import nn

from nascore.data import SearchData
from nascore.evaluation.split_training import train_on_search_split
from nascore.evaluation.train import EvalConfig
from nascore.events import Event, Selection
from nascore.networks.cells import ScaledRows
from nascore.networks.sampled import SampledRows, SinglePathOp
from nascore.optimizers.base import SearchOptimizer
from nascore.optimizers.components.ranking import Columns, supernet_score
from nascore.optimizers.components.sampling import generator_for, sample_columns
from nascore.rankcorr import kendall_tau, spearman_rho
from nascore.settings import RunConfig, Settings, setting
from nascore.spaces.architectures import ABSENT
from nascore.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nascore.config import SearchConfig

#: architectures sampled and ranked after the search by the methods that select by default (sampling-based
#: one-shot training: oneshot, rsws, spos, enas); the others select only when ``select_samples`` is set
DEFAULT_SELECT_SAMPLES = 20


class SelectionSettings(Settings):
    """Choosing the final architecture: sample M, rank them with the one-shot weights, retrain the top K."""

    title = "Choosing the final architecture"
    group = "selection"

    select_samples: int | None = setting(
        None, "M: architectures ranked with the one-shot weights after the search; 0: no selection stage.", ge=0,
        hint="architectures ranked with the one-shot weights; 0 = no selection, empty = the method's default",
        none_means=lambda: default_select_samples_text(),
        source="NASBoard's choice, after Yu et al. (ICLR 2020), who rank sampled architectures this way", label='Architectures sampled (M)')
    select_top_k: int = setting(4, "K of them (the best by one-shot validation accuracy) retrained from scratch; at "
                                   "most M.", ge=2,
                                hint="the architectures retrained from scratch; a rank correlation needs two",
                                source="NASBoard's choice", label='Retrained from scratch (K)')
    select_epochs: int = setting(2, "Epochs of each retraining, on the search's train split, scored on its "
                                    "validation split.", gt=0, hint="epochs of each retraining",
                                 source="NASBoard's choice", label='Epochs of each retraining')

    @classmethod
    def checks(cls, config):
        m = effective_select_samples(config)
        top_k = config["select_top_k"]
        if m and top_k > m:
            where = (f"select_samples ({m})" if config["select_samples"] is not None
                     else f"the {m} architectures {config['optimizer']} samples by default")
            return {"select_top_k": f"select_top_k ({top_k}) must not exceed {where}: only ranked architectures are "
                                    "retrained"}
        return {}


def default_select_samples_text() -> str:
    """What an empty ``select_samples`` means, naming the methods that select by default."""
    from nascore.optimizers import OPTIMIZERS

    on = sorted(name for name, cls in OPTIMIZERS.items() if cls.selects_by_default)
    return f"the method's default: {DEFAULT_SELECT_SAMPLES} for {', '.join(on)}, 0 for the others"


def effective_select_samples(config: Mapping[str, Any] | RunConfig) -> int:
    """M, the number of architectures the selection stage samples (0: no selection stage): ``select_samples``,
    or when it is None the default of the config's optimizer (so a config records the user's choice, not ours)."""
    cfg = config.to_dict() if isinstance(config, RunConfig) else config
    value = cfg.get("select_samples")
    if value is not None:
        return int(value)
    from nascore.optimizers import OPTIMIZERS

    cls = OPTIMIZERS.get(cfg.get("optimizer", "darts"))
    return DEFAULT_SELECT_SAMPLES if cls is not None and cls.selects_for(cfg) else 0

#: ``sampler(optimizer, probs, masks, generator)``: one candidate column per edge row per cell type
ArchSampler = Callable[[SearchOptimizer, dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Generator], Columns]
#: draws allowed per wanted candidate before a small space is taken to have no more distinct ones
DRAWS_PER_CANDIDATE = 50


def _categorical(optimizer: SearchOptimizer, probs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
                 generator: torch.Generator) -> Columns:
    """One op per edge from the method's edge x op probabilities: a softmax, the Gumbel-max distribution (which is
    the softmax), or the Dirichlet mean (the marginal of a Dirichlet draw followed by a categorical one)."""
    out = {}
    for ct, mask in masks.items():
        p = probs[ct].detach().float().cpu() * mask.float()
        p = torch.where(p.sum(-1, keepdim=True) > 0, p, mask.float())
        out[ct] = sample_columns(p, generator).squeeze(1).tolist()
    return out


def _uniform(optimizer: SearchOptimizer, probs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
             generator: torch.Generator) -> Columns:
    """The space's uniform draw: how the single-path methods (and random search) draw paths."""
    return optimizer.space.sample_architecture(generator)


def _policy(optimizer: SearchOptimizer, probs: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
            generator: torch.Generator) -> Columns:
    """A draw from the method's learned policy: its autoregressive controller (ENAS) when it has one, else the
    independent per-edge policy its distribution reports."""
    controller = getattr(optimizer, "controller", None)
    if controller is None:
        return _categorical(optimizer, probs, masks, generator)
    with torch.no_grad():
        return controller(generator)[0]


#: how candidates are drawn, by the kind of distribution the method reports (``SearchOptimizer.distribution_kind``);
#: a kind not listed draws from its edge x op distribution
SAMPLERS: dict[str, ArchSampler] = {
    "softmax": _categorical, "gumbel": _categorical, "dirichlet": _categorical,
    "frequency": _uniform, "policy": _policy,
}


def genotype_of(space: SearchSpace, columns: Columns, generator: torch.Generator) -> Any:
    """The space's genotype of a one-op-per-edge draw.  Each edge gets a random strength in [0.5, 1), so where the
    space keeps only some edges per node (DARTS: two), the kept ones are a uniform draw among the edges whose op
    is not ``none`` rather than always the first ones."""
    weights = {}
    for ct, cols in columns.items():
        strength = 0.5 + 0.5 * torch.rand(len(cols), generator=generator)
        weights[ct] = SampledRows(cols).one_hot(len(space.ops)) * strength.unsqueeze(1)
    return space.derive(weights)


def candidate_genotype(space: SearchSpace, columns: Columns, generator: torch.Generator) -> Any:
    """The genotype of a draw: the cell itself when the draw is an architecture of the space (the supernet ran
    exactly it), else (one op per edge on a space that keeps a few edges per node) :func:`genotype_of`."""
    if space.architecture_rule().problem(columns) is None:
        return space.genotype_of_path(columns)
    return genotype_of(space, columns, generator)


def genotype_rows(space: SearchSpace, genotype: Any) -> Columns:
    """The column of each search-cell edge row that ``genotype`` uses, :data:`ABSENT` for rows it leaves out
    (:meth:`~nascore.spaces.base.SearchSpace.path_of`)."""
    return space.path_of(genotype)


def candidate_weights(space: SearchSpace, model: nn.Module, genotype: Any, device: torch.device) -> dict[str, Any]:
    """What the supernet's ``forward(x, weights)`` takes to run exactly ``genotype``: per cell type, the chosen op of
    each kept edge (a single path where the edges compute one op, a one-hot row where they mix all) and an edge
    scale of 1 for kept edges and 0 for the others (so even partial-channel edges contribute nothing)."""
    single_path = any(isinstance(m, SinglePathOp) for m in model.modules())
    out: dict[str, Any] = {}
    for ct, cols in genotype_rows(space, genotype).items():
        scale = torch.tensor([0.0 if c == ABSENT else 1.0 for c in cols], device=device)
        if single_path:
            rows: Any = SampledRows(cols)  # ABSENT: a column the edge does not have, which computes zeros
        else:
            rows = torch.zeros(len(cols), len(space.ops), device=device)
            for r, c in enumerate(cols):
                if c != ABSENT:
                    rows[r, c] = 1.0
        out[ct] = ScaledRows(rows, scale)
    return out


def distinct_candidates(space: SearchSpace, optimizer: SearchOptimizer, derived: Any, probs: dict[str, torch.Tensor],
                        count: int, generator: torch.Generator) -> list[Any]:
    """``derived`` and then distinct draws from the method's distribution, ``count`` in all (fewer only when the space
    holds fewer distinct architectures than the draws can find)."""
    masks = {ct: space.op_mask(ct) for ct in space.cell_types}
    sampler = SAMPLERS.get(optimizer.distribution_kind, _categorical)
    key = lambda g: json.dumps(g, sort_keys=True)  # noqa: E731
    out, seen = [derived], {key(derived)}
    draws = 0
    while len(out) < count and draws < count * DRAWS_PER_CANDIDATE:
        draws += 1
        genotype = candidate_genotype(space, sampler(optimizer, probs, masks, generator), generator)
        if key(genotype) not in seen:
            seen.add(key(genotype))
            out.append(genotype)
    return out


@dataclass
class SelectionOutcome:
    """``status``: ``finished`` or ``cancelled`` (the stop check ended it); ``block``: what result.json's
    ``selection`` holds; ``genotype``: the chosen architecture (None when cancelled)."""

    status: str
    block: dict[str, Any] = field(default_factory=dict)
    genotype: Any = None


def _standalone(metrics: dict[str, Any]) -> dict[str, Any]:
    return {"standalone_val_acc": metrics["val_acc"], "standalone_val_loss": metrics["val_loss"],
            "standalone_train_acc": metrics["train_acc"], "standalone_train_loss": metrics["train_loss"],
            "params": metrics["params"]}


def select_final_architecture(space: SearchSpace, optimizer: SearchOptimizer, model: nn.Module, data: SearchData,
                              cfg: SearchConfig, *, channels: int, layers: int, steps: int, device: torch.device,
                              derived: Any, probs: dict[str, torch.Tensor], emit: Callable[[Event], Any],
                              stop_check: Callable[[], bool] | None = None) -> SelectionOutcome:
    """Run the selection stage (see the module docstring) on a finished search.

    ``derived``/``probs``: the method's own architecture and its edge x op distribution; ``steps``: batches per
    stand-alone epoch (the search's); ``emit`` receives the ``selection`` events.  The stop check is asked before
    every batch; the train stream ends where it started."""
    started = time.time()
    generator = generator_for(cfg.seed, "selection")
    wanted, top_k, epochs = effective_select_samples(cfg), cfg.select_top_k, cfg.select_epochs
    genotypes = distinct_candidates(space, optimizer, derived, probs, wanted, generator)
    top_k = min(top_k, len(genotypes))
    total = len(genotypes) + top_k * epochs
    candidates: list[dict[str, Any]] = [{"index": i, "genotype": g, "source": "derived" if i == 0 else "sampled",
                                         "oneshot_val_acc": None, "oneshot_val_loss": None, "oneshot_rank": None,
                                         "retrained": False, "standalone_val_acc": None, "standalone_val_loss": None}
                                        for i, g in enumerate(genotypes)]
    eval_cfg = EvalConfig(space=cfg.space, dataset=cfg.dataset, data_dir=cfg.data_dir, epochs=epochs,
                          batch_size=cfg.batch_size, lr=cfg.w_lr, lr_min=min(cfg.w_lr_min, cfg.w_lr),
                          momentum=cfg.w_momentum, weight_decay=cfg.w_weight_decay, grad_clip=cfg.grad_clip,
                          auxiliary=False, drop_path=0.0, channels=channels, layers=layers, augment=False,
                          seed=generator_for(cfg.seed, "selection-standalone").initial_seed() % 2**31,
                          device=str(device), steps_per_epoch=steps)
    block: dict[str, Any] = {
        "status": "running", "samples": wanted, "sampled": len(candidates), "top_k": top_k, "epochs": epochs,
        "ranked_on": (f"the validation split ({len(data.val_indices)} examples) with the one-shot weights, "
                      "batch statistics"),
        "retrained_on": (f"the train split ({len(data.train_indices)} examples), {epochs} epochs of {steps} steps at "
                         f"C={channels}, {layers} layers, scored on the validation split"),
        "standalone_config": {k: v for k, v in eval_cfg.to_dict().items() if k not in ("data_dir", "device")},
        "candidates": candidates, "kendall_tau": None, "spearman": None, "chosen": None, "genotype": None,
        "search_genotype": derived, "seconds": 0.0,
    }

    def event(phase: str, done: int, **fields: Any) -> None:
        emit(Selection(phase=phase, done=done, total=total, samples=len(candidates), top_k=top_k, epochs=epochs,
                       seconds=time.time() - started, **fields))

    def stopped() -> SelectionOutcome:
        block.update(status="cancelled", seconds=time.time() - started)
        return SelectionOutcome("cancelled", block)

    event("start", 0)
    for c in candidates:  # 2. rank with the one-shot weights
        score = supernet_score(model, candidate_weights(space, model, c["genotype"], device), data.val_batches(),
                               stop_check)
        if score is None:
            return stopped()
        c["oneshot_val_loss"], c["oneshot_val_acc"] = score
        event("rank", c["index"] + 1, index=c["index"], candidate=dict(c))
    order = sorted(candidates, key=lambda c: (-c["oneshot_val_acc"], c["oneshot_val_loss"], c["index"]))
    for rank, c in enumerate(order, start=1):
        c["oneshot_rank"] = rank

    start_state = data.train.state_dict()  # 3. retrain the top K, each on the same batches
    try:
        for j, c in enumerate(order[:top_k]):
            data.train.load_state_dict(start_state)

            def on_epoch(epoch: int, metrics: dict[str, Any], c: dict[str, Any] = c, j: int = j) -> None:
                event("retrain", len(candidates) + j * epochs + epoch, index=c["index"], epoch=epoch,
                      candidate={**c, **_standalone(metrics)})

            metrics = train_on_search_split(space, c["genotype"], eval_cfg, data, steps, device, stop_check, on_epoch,
                                            channels_last=cfg.channels_last)
            if metrics is None:
                return stopped()
            c.update(retrained=True, **_standalone(metrics))
    finally:
        data.train.load_state_dict(start_state)

    retrained = order[:top_k]  # 4. choose, and how well the one-shot ranking predicted the stand-alone one
    oneshot = [c["oneshot_val_acc"] for c in retrained]
    standalone = [c["standalone_val_acc"] for c in retrained]
    best = max(retrained, key=lambda c: (c["standalone_val_acc"], -c["standalone_val_loss"], -c["oneshot_rank"]))
    block.update(status="finished", kendall_tau=kendall_tau(oneshot, standalone),
                 spearman=spearman_rho(oneshot, standalone), chosen=best["index"], genotype=best["genotype"],
                 seconds=time.time() - started)
    event("done", total, candidates=[dict(c) for c in candidates], chosen=best["index"],
          kendall_tau=block["kendall_tau"], spearman=block["spearman"], genotype=best["genotype"])
    return SelectionOutcome("finished", block, best["genotype"])


def _correlation_text(value: float | None) -> str:
    return "undefined" if value is None else f"{value:+.2f}"


def describe_selection(block: dict[str, Any]) -> str:
    """A finished selection block in one line: what was chosen and how far the one-shot ranking held."""
    chosen = next((c for c in block.get("candidates", []) if c.get("index") == block.get("chosen")), None)
    if chosen is None:
        return f"the selection stage is {block.get('status', 'unknown')}"
    acc = chosen.get("standalone_val_acc")
    origin = "the search's own architecture" if chosen.get("source") == "derived" else f"candidate {chosen['index']}"
    epochs = block.get("epochs")
    return (f"selection: kept {origin} (one-shot rank {chosen.get('oneshot_rank')} of {block.get('sampled')}, "
            f"stand-alone val acc {acc:.4f} after {epochs} epoch{'' if epochs == 1 else 's'}); rank correlation of the "
            f"{block.get('top_k')} retrained: Kendall tau {_correlation_text(block.get('kendall_tau'))}, "
            f"Spearman rho {_correlation_text(block.get('spearman'))}")
