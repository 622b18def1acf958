"""DARTS's continuous relaxation (Liu, Simonyan and Yang, ICLR 2019, section 2.1): each edge computes the
softmax-weighted sum of its candidate ops."""
from __future__ import annotations

from nascore.optimizers.components.relaxations.base import RELAXATIONS, Relaxation


@RELAXATIONS.register("softmax", "softmax-weighted sum of every op (continuous)",
                      "DARTS (Liu, Simonyan and Yang, ICLR 2019), section 2.1")
class SoftmaxRelaxation(Relaxation):
    name = "softmax"
    continuous = True
    deterministic = True
