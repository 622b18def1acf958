"""The components one-shot methods are composed of, each registered by name in its kind's registry
(:mod:`~nascore.optimizers.components.registry`): relaxations, partial channels (``edges``), edge normalisation,
SmoothDARTS perturbations, regularisers, the update schedule and derivations; and the pieces they share (Gumbel
sampling, path sampling and frequencies, drop-path schedules, one-shot ranking, an ENAS controller, black-box
samplers, the weights' optimizer)."""
