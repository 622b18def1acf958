"""ProxylessNAS's binarized paths (Cai, Zhu and Han, ICLR 2019, section 3.2), only the active path in memory.

Weight step: one path per edge sampled from ``softmax(alpha)``; only that op is computed and trained.
Architecture step (the paper's "two" mode): two distinct paths per edge are sampled from ``softmax(alpha)``, one
of them made active with the probabilities of the pair; the network runs the active op alone, and the binary gates
of both paths get ``dL/dg_k = <op_k(x), dL/d out>`` (the inactive op recomputed without a graph in the backward
pass, :class:`~nascore.networks.sampled.BinaryGateFunction`).  The gate gradients become architecture gradients
through the softmax of the pair, ``dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i)``; after the update, the
entries of paths that were not sampled are restored and the pair is shifted so that its total probability is
unchanged (the paper's rescaling).  An edge whose active path is the zero op (``none``) is left as it was, as the
authors' ``set_arch_param_grad`` does.  With a hardware-cost term (:mod:`~nascore.optimizers.components.cost`)
its gradient through ``softmax(alpha)`` of every op is added before the step, as the authors' ``loss.backward()``
fills it before the gate gradients are added.  The heatmap shows ``softmax(alpha)``; the supernet is validated on its most
likely path per edge.  Samples come from the method's CPU generator, saved in its state.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch
from torch.nn import functional as F

from nascore.networks.sampled import SampledRows
from nascore.optimizers.components.relaxations.base import RELAXATIONS, Relaxation
from nascore.optimizers.components.sampling import sample_columns

if TYPE_CHECKING:
    from nascore.optimizers.base import Batch

Pairs = dict[str, tuple[list[int], list[int]]]


@RELAXATIONS.register("binary_gates", "two sampled paths per edge, binary-gate gradients",
                      "ProxylessNAS (Cai, Zhu and Han, ICLR 2019), section 3.2")
class BinaryGateRelaxation(Relaxation):
    name = "binary_gates"
    single_path = True
    gradient = False  # its own update rule: the gates' gradients through the sampled pair

    @classmethod
    def space_error(cls, space: Any) -> str | None:
        for ct in space.cell_types:
            if int(space.op_mask(ct).sum(-1).min()) < 2:
                return (f"binary gates sample two paths per edge, but an edge of the {space.name} space's {ct} cell "
                        "has a single candidate op")
        return None

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, SampledRows]:
        """One path per edge from ``softmax(alpha)`` (the weight step's architecture)."""
        return {ct: SampledRows(sample_columns(self.masked_softmax(ct, a), self.method.generator).squeeze(1).tolist())
                for ct, a in zip(self.method.masks, alphas)}

    def validation_weights(self) -> dict[str, Any]:
        return self.most_likely()

    def sample_pairs(self) -> Pairs:
        """Per cell type: (active, inactive) columns per edge."""
        out = {}
        generator = self.method.generator
        for ct, alpha in self.method.alphas.items():
            probs = self.masked_softmax(ct, alpha.detach()).cpu()
            pairs = sample_columns(probs, generator, 2)  # edges x 2, distinct
            pair_probs = torch.gather(probs, 1, pairs)
            pick = torch.multinomial(pair_probs / pair_probs.sum(-1, keepdim=True), 1, generator=generator)
            active = torch.gather(pairs, 1, pick).squeeze(1)
            inactive = torch.gather(pairs, 1, 1 - pick).squeeze(1)
            out[ct] = (active.tolist(), inactive.tolist())
        return out

    def binary_gate_grads(self, val: Batch, pairs: Pairs) -> dict[str, torch.Tensor]:
        x, y = val
        gates, weights = {}, {}
        for ct, (active, inactive) in pairs.items():
            g = torch.zeros_like(self.method.alphas[ct]).requires_grad_()
            gates[ct] = g
            weights[ct] = SampledRows(active, gates=g, others=inactive)
        loss = F.cross_entropy(self.method.model(x, weights), y)
        grads = torch.autograd.grad(loss, list(gates.values()), allow_unused=True)
        return {ct: torch.zeros_like(gates[ct]) if g is None else g for ct, g in zip(gates, grads)}

    def arch_step(self, val: Batch) -> None:
        alphas = self.method.alphas
        pairs = self.sample_pairs()
        gate_grads = self.binary_gate_grads(val, pairs)
        cost_grads = self.method.cost_grads()  # the expected cost's gradient, through softmax(alpha) of every op
        before = {ct: a.detach().clone() for ct, a in alphas.items()}
        involved, skipped = {}, {}
        none = self.method.space.ops.index("none") if "none" in self.method.space.ops else -1
        for k, (ct, alpha) in enumerate(alphas.items()):
            active, inactive = pairs[ct]
            cols = torch.stack([torch.tensor(active), torch.tensor(inactive)], dim=1).to(alpha.device)  # edges x 2
            p = F.softmax(torch.gather(before[ct], 1, cols), dim=-1)  # the pair's probabilities
            gg = torch.gather(gate_grads[ct], 1, cols)
            # dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i), i, j over the pair
            grad_pair = p * gg - p * (p * gg).sum(-1, keepdim=True)
            grad = torch.zeros_like(alpha) if cost_grads is None else cost_grads[k].clone()
            alpha.grad = grad.scatter_add_(1, cols, grad_pair)
            # the zero op active: that edge is not updated at all (mit-han-lab/proxylessnas,
            # search/modules/mix_op.py lines 210-214, MixedEdge.set_arch_param_grad: grad None, no rescaling)
            skipped[ct] = torch.tensor(active, device=alpha.device) == none
            alpha.grad[skipped[ct]] = 0.0
            involved[ct] = cols
        adam_rows = self._adam_rows(skipped)
        self.method.alpha_optimizer.step()
        self._restore_adam_rows(adam_rows)
        with torch.no_grad():
            for ct, alpha in alphas.items():
                cols = involved[ct]
                moved = torch.zeros_like(alpha, dtype=torch.bool).scatter_(1, cols, True)
                if cost_grads is not None:  # the cost term moves every candidate, as in the authors' code
                    moved |= self.method.masks[ct]
                moved[skipped[ct]] = False
                alpha.copy_(torch.where(moved, alpha, before[ct]))  # the others unchanged
                old = torch.gather(before[ct], 1, cols).logsumexp(-1, keepdim=True)
                new = torch.gather(alpha, 1, cols).logsumexp(-1, keepdim=True)
                shift = torch.where(skipped[ct].unsqueeze(1), torch.zeros_like(new), new - old)
                alpha.scatter_(1, cols, torch.gather(alpha, 1, cols) - shift)

    def _adam_rows(self, skipped: dict[str, torch.Tensor]) -> list[tuple[dict[str, Any], torch.Tensor, dict]]:
        """Adam's moments of the skipped edges' rows, to put back after the step (the authors' Adam skips a
        parameter whose gradient is None, so its moments do not decay either)."""
        saved = []
        for ct, alpha in self.method.alphas.items():
            state = self.method.alpha_optimizer.state.get(alpha, {})
            rows = skipped[ct]
            if rows.any() and state:
                saved.append((state, rows, {k: state[k][rows].clone() for k in ("exp_avg", "exp_avg_sq")}))
        return saved

    @staticmethod
    def _restore_adam_rows(saved: list[tuple[dict[str, Any], torch.Tensor, dict]]) -> None:
        for state, rows, values in saved:
            for key, value in values.items():
                state[key][rows] = value

    def update_before(self, train: Batch, val: Batch) -> None:
        self.method.alpha_optimizer.zero_grad(set_to_none=True)
        self.arch_step(val)
