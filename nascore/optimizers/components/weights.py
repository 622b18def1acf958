"""The network-weight side of a search step, shared by the methods without a DARTS parent."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nascore.config import SearchConfig

Batch = tuple[torch.Tensor, torch.Tensor]


class WeightTrainer:
    """SGD with momentum and weight decay on the supernet's weights, cosine-annealed per epoch, gradient
    clipping: DARTS's weight optimizer, for any method."""

    def __init__(self, model: nn.Module, config: SearchConfig):
        self.model = model
        self.config = config
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.params, lr=config.w_lr, momentum=config.w_momentum,
                                         weight_decay=config.w_weight_decay)
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
