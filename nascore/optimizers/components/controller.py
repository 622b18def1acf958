"""ENAS's controller (Pham et al., ICML 2018): an LSTM that picks one op per edge, autoregressively,
trained by REINFORCE with a moving-average baseline and an entropy bonus.

Decisions run over the cell types in order and, within one, over the edge rows; each step feeds the
embedding of the previous choice, and the logits are squashed as in ENAS (``tanh_constant *
tanh(logits / temperature)``) and masked to the edge's candidates.  The controller lives on the CPU
(it is tiny) and samples from a caller's generator.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

Columns = dict[str, list[int]]


class Controller(nn.Module):
    def __init__(self, masks: dict[str, torch.Tensor], hidden: int = 64, tanh_constant: float = 2.5,
                 temperature: float = 5.0):
        super().__init__()
        self.masks = {ct: m.detach().cpu().bool() for ct, m in masks.items()}
        self.num_ops = next(iter(self.masks.values())).shape[1]
        self.hidden = hidden
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.embed = nn.Embedding(self.num_ops + 1, hidden)  # the last index is the start token
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.head = nn.Linear(hidden, self.num_ops)

    def forward(self, generator: torch.Generator | None = None, greedy: bool = False, actions: Columns | None = None
                ) -> tuple[Columns, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``(arch, log_prob, entropy, probs)``: one column per edge row per cell type, the sum of the
        log-probabilities and of the entropies of the decisions, and each decision's probabilities.
        ``greedy`` takes the most likely op at each decision; ``actions`` scores a given architecture."""
        h = c = torch.zeros(1, self.hidden)
        inp = self.embed(torch.tensor([self.num_ops]))
        arch: Columns = {}
        probs: dict[str, torch.Tensor] = {}
        log_prob = torch.zeros(())
        entropy = torch.zeros(())
        for ct, mask in self.masks.items():
            cols, rows = [], []
            for r in range(mask.shape[0]):
                h, c = self.lstm(inp, (h, c))
                logits = self.tanh_constant * torch.tanh(self.head(h)[0] / self.temperature)
                logits = logits.masked_fill(~mask[r], float("-inf"))
                logp = F.log_softmax(logits, dim=-1)
                p = logp.exp()
                if actions is not None:
                    choice = int(actions[ct][r])
                elif greedy:
                    choice = int(p.detach().argmax())
                else:
                    choice = int(torch.multinomial(p.detach(), 1, generator=generator))
                log_prob = log_prob + logp[choice]
                entropy = entropy - torch.where(mask[r], p * logp, torch.zeros_like(p)).sum()
                cols.append(choice)
                rows.append(p.detach())
                inp = self.embed(torch.tensor([choice]))
            arch[ct] = cols
            probs[ct] = torch.stack(rows)
        return arch, log_prob, entropy, probs


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
