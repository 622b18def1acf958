"""ENAS (Pham et al., ICML 2018): weight sharing with a learned sampling policy.

Each step trains the shared weights on the training batch with an architecture sampled from the
controller (one op per edge), then samples another and updates the controller by REINFORCE, the reward
being that architecture's accuracy on the validation batch with the shared weights (batch statistics),
with a moving-average baseline (decay 0.99) and an entropy bonus (weight 1e-4), ENAS's settings.  The
controller learns at ``alpha_lr`` (Adam).  The heatmap shows the controller's probabilities along its
most likely (greedy) decoding, which is also the derived architecture and the one the supernet is
validated on.  The controller is created from the run's seed, samples from its own generator, and all
of it is saved in the state.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nascore.optimizers.base import Batch, StepStats
from nascore.optimizers.components.controller import Controller, Reinforce
from nascore.optimizers.components.ranking import Columns, oneshot_scores
from nascore.optimizers.components.sampling import generator_for
from nascore.optimizers.oneshot import WeightSharingOptimizer

ENTROPY_WEIGHT = 1e-4
BASELINE_DECAY = 0.99


class ENASOptimizer(WeightSharingOptimizer):
    name = "enas"
    distribution_kind = "policy"

    def setup(self, model: nn.Module, device: torch.device) -> None:
        super().setup(model, device)
        with torch.random.fork_rng(devices=[]):  # the controller's initial weights from the run's seed only
            torch.manual_seed(generator_for(self.config.seed, "enas-controller").initial_seed())
            self.controller = Controller(self.masks)
        self.reinforce = Reinforce(self.controller, lr=self.config.alpha_lr, entropy_weight=ENTROPY_WEIGHT,
                                   baseline_decay=BASELINE_DECAY)
        self.last_reward = float("nan")

    def sample_architecture(self) -> Columns:
        with torch.no_grad():
            arch, _, _, _ = self.controller(self.generator)
        return arch

    def step(self, train: Batch, val: Batch) -> StepStats:
        stats = super().step(train, val)
        arch, log_prob, entropy, _ = self.controller(self.generator)
        _, accuracy = oneshot_scores(self.model, [arch], [val])[0]
        self.reinforce.update(log_prob, entropy, accuracy)
        self.last_reward = accuracy
        return stats

    def greedy(self) -> tuple[Columns, dict[str, torch.Tensor]]:
        with torch.no_grad():
            arch, _, _, probs = self.controller(greedy=True)
        return arch, probs

    def choose(self) -> Columns:
        return self.greedy()[0]

    def distribution(self) -> dict[str, torch.Tensor]:
        return self.greedy()[1]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "reinforce": self.reinforce.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.reinforce.load_state_dict(state["reinforce"])
