"""Evaluation, agnostic to origin: measure any genotype's network (parameters, MACs) and
train it from scratch.  ``measure`` needs only torch; ``train`` also reads datasets."""
from nascore.evaluation.measure import count_flops, count_params, describe, uniform_weights

__all__ = ["count_flops", "count_params", "describe", "uniform_weights"]
