"""ENAS's learned controller (Pham et al., ICML 2018, section 2.2): an LSTM policy makes the space's decisions (one
op per edge; on DARTS cells two inputs per node and an op on each, as the paper's micro controller).

Each step trains the shared weights on a path sampled from the controller, then samples another and updates the
controller by REINFORCE, the reward being that architecture's accuracy on the validation batch with the shared
weights (batch statistics), with a moving-average baseline (decay 0.99) and an entropy bonus (weight 1e-4), ENAS's
settings; the controller learns at ``alpha_lr`` (Adam).  The heatmap shows the controller's probabilities along
its greedy decoding, which is also the architecture it chooses.  The controller is created from the run's seed,
samples from the method's generator, and all of it is saved in the state.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch

from nascore.networks.sampled import SampledRows
from nascore.optimizers.components.controller import Controller, Reinforce
from nascore.optimizers.components.ranking import oneshot_scores
from nascore.optimizers.components.relaxations.base import RELAXATIONS, Columns, Relaxation
from nascore.optimizers.components.sampling import generator_for

if TYPE_CHECKING:
    from nascore.optimizers.base import Batch

ENTROPY_WEIGHT = 1e-4
BASELINE_DECAY = 0.99


@RELAXATIONS.register("controller", "an LSTM policy samples the cell (inputs and ops), learned by REINFORCE",
                      "ENAS (Pham et al., ICML 2018), section 2.2")
class ControllerRelaxation(Relaxation):
    name = "controller"
    distribution_kind = "policy"
    single_path = True
    has_alphas = False
    gradient = False
    selects_by_default = True

    def setup(self, device: torch.device) -> None:
        method = self.method
        with torch.random.fork_rng(devices=[]):  # the controller's initial weights from the run's seed only
            torch.manual_seed(generator_for(method.config.seed, f"{method.name}-controller").initial_seed())
            self.controller = Controller(method.space.architecture_rule())
        self.reinforce = Reinforce(self.controller, lr=method.config.alpha_lr, entropy_weight=ENTROPY_WEIGHT,
                                   baseline_decay=BASELINE_DECAY)
        self.last_reward = float("nan")

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, SampledRows]:
        with torch.no_grad():
            arch, _, _, _ = self.controller(self.method.generator)
        self.method.counter.add(arch)
        return {ct: SampledRows(cols) for ct, cols in arch.items()}

    def update_before(self, train: Batch, val: Batch) -> None:
        """The controller learns after the weight step, on the weights it has just trained."""

    def update_after(self, train: Batch, val: Batch) -> None:
        arch, log_prob, entropy, _ = self.controller(self.method.generator)
        _, accuracy = oneshot_scores(self.method.model, [arch], [val])[0]
        self.reinforce.update(log_prob, entropy, accuracy)
        self.last_reward = accuracy

    def greedy(self) -> tuple[Columns, dict[str, torch.Tensor]]:
        with torch.no_grad():
            arch, _, _, probs = self.controller(greedy=True)
        return arch, probs

    def choose(self) -> Columns:
        return self.greedy()[0]

    def distribution(self) -> dict[str, torch.Tensor]:
        return self.greedy()[1]

    def state_dict(self) -> dict[str, Any]:
        return {"reinforce": self.reinforce.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reinforce.load_state_dict(state["reinforce"])
