"""Which components combine, and why the others do not: each refusal names the config key that chose the
offending component (an override's key, or ``optimizer`` when the preset chose it) and says why."""
from __future__ import annotations

from typing import Any, Mapping

from nascore.optimizers.components.cost import cost_penalty_error
from nascore.optimizers.components.derivation import DERIVATIONS
from nascore.optimizers.components.edges import partial_channel_error
from nascore.optimizers.components.regularizers import regularizer_error
from nascore.optimizers.components.relaxations import RELAXATIONS
from nascore.optimizers.presets import Recipe


def _blame(recipe: Recipe, *kinds: str) -> str:
    """The key to report a conflict between ``kinds`` on: the first one a config overrode, else ``optimizer``."""
    for kind in kinds:
        if recipe.chosen_by[kind] != "optimizer":
            return recipe.chosen_by[kind]
    return "optimizer"


def composition_errors(method: str, recipe: Recipe, space: Any, config: Mapping[str, Any]) -> dict[str, str]:
    """Every reason the components of ``recipe`` cannot run together on ``space``, as ``{field: message}``."""
    relax = RELAXATIONS[recipe.relaxation].impl
    named = f"the {recipe.relaxation} relaxation ({method})"
    errors: dict[str, str] = {}
    problem = relax.space_error(space)
    if problem:
        errors[_blame(recipe, "relaxation")] = problem
    if recipe.perturbation != "none" and not relax.continuous:
        continuous = ", ".join(n for n, c in RELAXATIONS.entries.items() if c.impl.continuous)
        errors["perturb"] = (f"a SmoothDARTS perturbation needs a relaxation whose supernet runs on continuous "
                             f"architecture weights ({continuous}); {named} does not")
    if recipe.order == 2 and not (relax.gradient and relax.deterministic):
        errors["order"] = (f"second-order gradients (order 2) are not available with {named}: the unrolled gradient "
                           "needs search-step weights that are a deterministic function of alpha; use order 1")
    if recipe.partial_channels > 1:
        channels = config.get("channels") or space.default_channels
        errors.update(partial_channel_error(recipe.partial_channels, channels, recipe.chosen_by["partial_channels"]))
    if relax.epoch_updates and recipe.chosen_by["arch_every"] != "optimizer":
        errors["arch_every"] = (f"{named} learns once per epoch, after the weights' steps (controller_train_steps), "
                                "not every N weight steps; leave arch_every empty")
    if recipe.edge_normalization and not relax.gradient:
        errors[_blame(recipe, "edge_normalization", "relaxation")] = (
            f"edge normalisation learns its edge weights from the gradient of the validation loss, which {named} "
            "does not follow (it has its own update rule or no architecture parameters)")
    problem = regularizer_error(recipe.regularizer, relax)
    if problem:
        errors[_blame(recipe, "regularizer", "relaxation")] = problem
    problem = cost_penalty_error(recipe.cost_penalty, relax)
    if problem:
        errors[_blame(recipe, "cost_penalty", "relaxation")] = problem
    derivation = DERIVATIONS[recipe.derivation].impl
    if not derivation.one_shot and not relax.learns_distribution:
        errors[_blame(recipe, "derivation", "relaxation")] = (
            f"{named} learns no distribution to derive an architecture from; use derivation random_search or "
            "evolution")
    if derivation.one_shot and not relax.single_path:
        single = ", ".join(n for n, c in RELAXATIONS.entries.items() if c.impl.single_path)
        errors[_blame(recipe, "derivation", "relaxation")] = (
            f"derivation {recipe.derivation} scores single architectures with the one-shot weights, which needs "
            f"single-path edges ({single}); {named} computes every op of an edge")
    if derivation.one_shot and recipe.edge_normalization:
        errors[_blame(recipe, "edge_normalization", "derivation")] = (
            f"derivation {recipe.derivation} scores single paths without edge weights, so edge normalisation "
            "would not take part in the choice; use derivation distribution")
    if config.get("drop_path", 0) and recipe.relaxation != "all_paths":
        errors["drop_path"] = (f"drop_path applies to one-shot training of every path (relaxation all_paths, the "
                               f"oneshot preset), not to {named}")
    if config.get("early_stop", "none") != "none" and not relax.has_alphas:
        errors["early_stop"] = (f"{named} has no continuous architecture parameters to measure curvature on; "
                                "early stopping needs them")
    return errors
