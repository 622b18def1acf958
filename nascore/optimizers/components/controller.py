"""ENAS's controller (Pham et al., ICML 2018): an LSTM that makes an architecture's decisions autoregressively,
trained by REINFORCE with a moving-average baseline and an entropy bonus.

The decisions are the space's (:mod:`nascore.spaces.architectures`): one op per edge row (NAS-Bench-201), or on
DARTS cells, per node, two inputs and then an op on each, the order of ENAS's micro controller
(melodyguan/enas, src/cifar10/micro_controller.py, lines 150-189).  Decisions run over the cell types in order;
each step feeds the embedding of the previous choice, and the logits are squashed as in ENAS (``tanh_constant *
tanh(logits / temperature)``) and masked to the values allowed (an op: the edge's candidates; an input: the
earlier nodes the node has not taken yet, so the two inputs differ, which the supernet's single edge per pair
needs; ENAS may draw one input twice).  Inputs are scored by a linear head over the nodes where ENAS attends over
the nodes' hidden states.  The controller lives on the CPU (it is tiny) and samples from a caller's generator.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nascore.spaces.architectures import Columns, OneOpPerEdge


class Controller(nn.Module):
    def __init__(self, rule: OneOpPerEdge | dict[str, torch.Tensor], hidden: int = 64, tanh_constant: float = 2.5,
                 temperature: float = 5.0, op_tanh_reduce: float = 1.0):
        super().__init__()
        self.rule = rule if isinstance(rule, OneOpPerEdge) else OneOpPerEdge(rule)
        self.masks = self.rule.masks
        self.num_ops = self.rule.num_ops
        self.hidden = hidden
        self.tanh_constant, self.temperature = tanh_constant, temperature
        # ENAS's micro controller squashes op decisions with tanh_constant / op_tanh_reduce and input decisions with
        # tanh_constant itself (micro_controller.py: op_tanh = self.tanh_constant / self.op_tanh_reduce)
        self.op_tanh_reduce = op_tanh_reduce
        self.embed = nn.Embedding(self.num_ops + 1, hidden)  # the last index is the start token
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, self.num_ops)
        if self.rule.num_nodes:  # input decisions (DARTS cells), created after the rest: same op weights as before
            self.node_embed = nn.Embedding(self.rule.num_nodes, hidden)
            self.node_head = nn.Linear(hidden, self.rule.num_nodes)

    def forward(self, generator: torch.Generator | None = None, greedy: bool = False, actions: Columns | None = None
                ) -> tuple[Columns, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``(arch, log_prob, entropy, probs)``: one column per edge row per cell type (the rule's ``ABSENT`` for an
        edge left out), the sums of the log-probabilities and of the entropies of the decisions, and per cell type
        the op probabilities of each edge row decided on (rows not decided on: uniform over the candidates).
        ``greedy`` takes the most likely value at each decision; ``actions`` scores a given architecture."""
        h = c = torch.zeros(1, self.hidden)
        inp = self.embed(torch.tensor([self.num_ops]))
        arch: Columns = {}
        probs: dict[str, torch.Tensor] = {}
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        for ct in self.masks:
            given = None if actions is None else self.rule.values(ct, actions[ct])
            made: list[int] = []
            rows: dict[int, torch.Tensor] = {}
            for i in range(self.rule.num_decisions(ct)):
                kind, key, allowed = self.rule.decision(ct, i, made)
                h, c = self.lstm(inp, (h, c))
                head = self.head if kind == "op" else self.node_head
                squash = self.tanh_constant / (self.op_tanh_reduce if kind == "op" else 1.0)
                logits = squash * torch.tanh(head(h)[0] / self.temperature)
                mask = torch.zeros(logits.shape[0], dtype=torch.bool)
                mask[allowed] = True
                logits = logits.masked_fill(~mask, float("-inf"))
                logp = F.log_softmax(logits, dim=-1)
                p = logp.exp()
                if given is not None:
                    choice = int(given[i])
                elif greedy:
                    choice = int(p.detach().argmax())
                else:
                    choice = int(torch.multinomial(p.detach(), 1, generator=generator))
                log_prob = log_prob + logp[choice]
                entropy = entropy - (p * logp.masked_fill(~mask, 0.0)).sum()  # no NaN gradient off the mask
                made.append(choice)
                if kind == "op":
                    rows[key] = p.detach()
                inp = (self.embed if kind == "op" else self.node_embed)(torch.tensor([choice]))
            arch[ct] = self.rule.columns(ct, made)
            probs[ct] = self._rows(ct, rows)
        return arch, log_prob, entropy, probs

    def _rows(self, ct: str, decided: dict[int, torch.Tensor]) -> torch.Tensor:
        """Edge x op probabilities: the op decision's for the edges decided on, uniform over the candidates else."""
        mask = self.masks[ct]
        out = torch.zeros(mask.shape)
        for r, cands in enumerate(self.rule.candidates[ct]):
            if r in decided:
                out[r] = decided[r]
            else:
                out[r, cands] = 1.0 / len(cands)
        return out


def moving_baseline(baseline: float | None, reward: float, decay: float) -> float:
    """REINFORCE's baseline after ``reward``: an exponential moving average started at the first reward."""
    return float(reward) if baseline is None else decay * baseline + (1 - decay) * float(reward)


class Reinforce:
    """REINFORCE on a controller: ``loss = -(reward - baseline) * log_prob - entropy_weight * entropy``, the
    baseline an exponential moving average of the rewards (started at the first reward)."""

    def __init__(self, controller: Controller, lr: float, entropy_weight: float = 1e-4, baseline_decay: float = 0.99):
        self.controller = controller
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=lr)
        self.entropy_weight, self.baseline_decay = entropy_weight, baseline_decay
        self.baseline: float | None = None

    def update(self, log_prob: torch.Tensor, entropy: torch.Tensor, reward: float) -> float:
        """One policy-gradient step for a sampled architecture's reward; returns the advantage."""
        reward = float(reward)
        self.baseline = moving_baseline(self.baseline, reward, self.baseline_decay)
        advantage = reward - self.baseline
        loss = -advantage * log_prob - self.entropy_weight * entropy
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return advantage

    def state_dict(self) -> dict[str, Any]:
        return {"controller": self.controller.state_dict(), "optimizer": self.optimizer.state_dict(),
                "baseline": self.baseline}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]


class AggregatedReinforce(Reinforce):
    """ENAS's controller training as its code does it (melodyguan/enas ``src/cifar10/micro_controller.py:231-248``
    and ``main.py:276-291``): the reward of a sample is its accuracy plus ``entropy_weight`` times its entropy (the
    entropy bonus is in the reward, line 237-238); the baseline, from 0, moves towards each reward before it is used
    (``bl -= (1 - bl_dec) * (bl - reward)``, lines 241-246); the loss is ``-log_prob * (reward - baseline)``; with
    ``--controller_sync_replicas`` the gradients of ``num_aggregate`` samples are averaged into one Adam step."""

    def start(self) -> None:
        """Before a group of samples: no gradient left over."""
        self.optimizer.zero_grad(set_to_none=True)

    def add(self, log_prob: torch.Tensor, entropy: torch.Tensor, accuracy: float, num_aggregate: int) -> float:
        """Accumulate one sample's gradient (divided by ``num_aggregate``); returns its advantage."""
        reward = float(accuracy) + self.entropy_weight * float(entropy.detach())
        baseline = 0.0 if self.baseline is None else self.baseline
        self.baseline = baseline - (1 - self.baseline_decay) * (baseline - reward)
        advantage = reward - self.baseline
        (-advantage * log_prob / num_aggregate).backward()
        return advantage

    def apply(self) -> None:
        """One Adam step on the averaged gradient of the group."""
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
