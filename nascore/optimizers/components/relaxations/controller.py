"""ENAS's learned controller (Pham et al., ICML 2018, section 2.2): an LSTM policy makes the space's decisions (one
op per edge; on DARTS cells two inputs per node and an op on each, as the paper's micro controller).

The schedule is the authors' (melodyguan/enas ``src/cifar10/main.py:276-291``): an epoch trains the shared weights,
each step on a path sampled from the controller; then the controller is trained for ``controller_train_steps``
steps, each averaging the REINFORCE gradients of ``controller_num_aggregate`` sampled architectures (their
``scripts/cifar10_micro_search.sh``: 30 steps of 10 samples, every epoch).  A sample's reward is its accuracy on a
fresh validation batch with the shared weights (batch statistics) plus the entropy bonus (weight 1e-4), against a
moving-average baseline (decay 0.99) (:class:`~nascore.optimizers.components.controller.AggregatedReinforce`); the
controller learns at ``controller_lr`` (Adam) and squashes its op logits as ``tanh_constant / op_tanh_reduce *
tanh(logits)`` and its input logits as ``tanh_constant * tanh(logits)`` (the micro search's 1.10 and 2.5, no
temperature).  ENAS's skip penalty applies to its macro space
only; NASBoard's spaces are cells.  The heatmap shows the controller's probabilities along its greedy decoding,
which is also the architecture it chooses.  The controller is created from the run's seed, samples from the
method's generator, and all of it is saved in the state.
"""
from __future__ import annotations

from typing import Any, Callable, TYPE_CHECKING

import torch

from nascore.networks.sampled import SampledRows
from nascore.optimizers.components.controller import AggregatedReinforce, Controller
from nascore.optimizers.components.ranking import oneshot_scores
from nascore.optimizers.components.relaxations.base import RELAXATIONS, Columns, Relaxation
from nascore.optimizers.components.sampling import generator_for
from nascore.settings import Settings, setting

if TYPE_CHECKING:
    from nascore.optimizers.base import Batch

ENTROPY_WEIGHT = 1e-4  # scripts/cifar10_micro_search.sh: --controller_entropy_weight=0.0001
BASELINE_DECAY = 0.99  # main.py:72: --controller_bl_dec 0.99
SCRIPT = "ENAS's code (melodyguan/enas scripts/cifar10_micro_search.sh)"


class ControllerSettings(Settings):
    """How ENAS's controller is trained (the relaxation controller)."""

    title = "Controller (ENAS)"

    controller_train_steps: int = setting(30, "Controller steps after each epoch of the shared weights.", gt=0,
                                          source=f"{SCRIPT}: --controller_train_steps=30 (main.py:279)",
                                          label="Controller steps per epoch")
    controller_num_aggregate: int = setting(10, "Sampled architectures whose gradients each controller step "
                                                "averages.", gt=0,
                                            source=f"{SCRIPT}: --controller_num_aggregate=10 with "
                                                   "--controller_sync_replicas", label="Samples per controller step")
    controller_lr: float = setting(3.5e-3, "Adam's learning rate of the controller.", gt=0,
                                   source=f"{SCRIPT}: --controller_lr=0.0035", label="Controller learning rate")
    controller_tanh_constant: float = setting(1.1, "The controller's logits are tanh_constant / op_tanh_reduce * "
                                                   "tanh(logits).", gt=0,
                                              source=f"{SCRIPT}: --controller_tanh_constant=1.10",
                                              label="Controller tanh constant")
    controller_op_tanh_reduce: float = setting(2.5, "Divides the tanh constant for the op decisions.", gt=0,
                                               source=f"{SCRIPT}: --controller_op_tanh_reduce=2.5",
                                               label="Controller op tanh reduction")


@RELAXATIONS.register("controller", "an LSTM policy samples the cell (inputs and ops), learned by REINFORCE",
                      "ENAS (Pham et al., ICML 2018), section 2.2", settings=(ControllerSettings,))
class ControllerRelaxation(Relaxation):
    name = "controller"
    distribution_kind = "policy"
    single_path = True
    has_alphas = False
    gradient = False
    selects_by_default = True
    settings = (ControllerSettings,)
    epoch_updates = True

    def setup(self, device: torch.device) -> None:
        method = self.method
        with torch.random.fork_rng(devices=[]):  # the controller's initial weights from the run's seed only
            torch.manual_seed(generator_for(method.config.seed, f"{method.name}-controller").initial_seed())
            cfg = method.config
            self.controller = Controller(method.space.architecture_rule(), temperature=1.0,  # none in the micro search
                                         tanh_constant=cfg.controller_tanh_constant,
                                         op_tanh_reduce=cfg.controller_op_tanh_reduce)
        self.reinforce = AggregatedReinforce(self.controller, lr=method.config.controller_lr,
                                             entropy_weight=ENTROPY_WEIGHT, baseline_decay=BASELINE_DECAY)
        self.last_reward = float("nan")

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, SampledRows]:
        with torch.no_grad():
            arch, _, _, _ = self.controller(self.method.generator)
        self.method.counter.add(arch)
        return {ct: SampledRows(cols) for ct, cols in arch.items()}

    def update_before(self, train: Batch, val: Batch) -> None:
        """The controller learns after the weights' epoch (:meth:`update_epoch`), not between weight steps."""

    def update_epoch(self, next_val: Callable[[], Batch]) -> None:
        """``controller_train_steps`` steps of ``controller_num_aggregate`` samples, each rewarded on its own
        validation batch (ENAS ``main.py:276-291``; the reward's batch: the child's shuffled valid queue)."""
        cfg = self.method.config
        for _ in range(cfg.controller_train_steps):
            self.reinforce.start()
            for _ in range(cfg.controller_num_aggregate):
                arch, log_prob, entropy, _ = self.controller(self.method.generator)
                _, accuracy = oneshot_scores(self.method.model, [arch], [next_val()])[0]
                self.reinforce.add(log_prob, entropy, accuracy, cfg.controller_num_aggregate)
                self.last_reward = accuracy
            self.reinforce.apply()

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
