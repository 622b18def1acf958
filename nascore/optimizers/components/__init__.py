"""Pieces that several search methods combine: Gumbel sampling, perturbations of the architecture
weights (SmoothDARTS), path sampling and sampling frequencies, drop-path schedules, ranking of sampled
architectures with one-shot weights, an ENAS controller, black-box samplers."""
