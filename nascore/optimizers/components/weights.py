"""The network-weight side of a search step, shared by the methods without a DARTS parent."""
from __future__ import annotations

from typing import Any, Mapping, TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from nascore.settings import Settings, setting

if TYPE_CHECKING:
    from nascore.config import SearchConfig


Batch = tuple[torch.Tensor, torch.Tensor]


class WeightOptimizerSettings(Settings):
    """The network weights' optimizer: SGD with momentum, cosine-annealed, gradient clipping."""

    title = "Network weights"

    w_lr: float = setting(0.025, "Learning rate of the network weights at the first epoch (cosine-annealed).", gt=0,
                          basic=True, source="DARTS (Liu et al., ICLR 2019), section A.1.1: 0.025", label='Weight learning rate')
    w_lr_min: float = setting(0.001, "The weights' learning rate at the last epoch.", ge=0,
                              source="DARTS, section A.1.1: annealed down to 0.001", label='Minimum weight learning rate')
    w_momentum: float = setting(0.9, "SGD momentum of the weights.", ge=0, source="DARTS, section A.1.1: 0.9", label='Weight momentum')
    w_weight_decay: float = setting(3e-4, "Weight decay of the network weights.", ge=0,
                                    source="DARTS, section A.1.1: 3e-4", label='Weight decay')
    w_nesterov: bool = setting(False, "Nesterov momentum for the weights' SGD.",
                               source="DARTS's code (quark0/darts, cnn/train_search.py: plain SGD momentum); "
                                      "NAS-Bench-201's search configs use Nesterov (D-X-Y/AutoDL-Projects, "
                                      "configs/nas-benchmark/algos/DARTS.config: nesterov 1)",
                               label="Nesterov momentum")

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        if config["w_nesterov"] and config["w_momentum"] <= 0:
            return {"w_nesterov": "Nesterov momentum needs a positive w_momentum (SGD refuses it with none)"}
        return {}

    grad_clip: float = setting(5.0, "The weights' gradient norm is clipped to this.", gt=0,
                               source="DARTS's code (quark0/darts, cnn/train_search.py: --grad_clip 5)", label='Gradient clip')


class WeightTrainer:
    """SGD with momentum and weight decay on the supernet's weights, cosine-annealed per epoch, gradient
    clipping: DARTS's weight optimizer, for any method."""

    def __init__(self, model: nn.Module, config: SearchConfig):
        self.model = model
        self.config = config
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=config.w_lr, momentum=config.w_momentum,
                                         weight_decay=config.w_weight_decay, nesterov=config.w_nesterov)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config.epochs,
                                                                    eta_min=config.w_lr_min)

    def step(self, batch: Batch, weights: Any) -> tuple[float, int, int]:
        """One SGD step of the cross-entropy of ``model(x, weights)``: (loss, correct, count)."""
        x, y = batch
        logits = self.model(x, weights)
        loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
        self.optimizer.step()
        return float(loss.detach()), int((logits.argmax(1) == y).sum()), int(y.numel())

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def epochs_done(self) -> int:
        return int(self.scheduler.last_epoch)

    def weight_decay(self) -> float:
        return float(self.optimizer.param_groups[0]["weight_decay"])

    def set_weight_decay(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["weight_decay"] = float(value)

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
