"""How a one-shot method picks the architecture it reports (and validates the supernet on), registered by name.

* ``distribution``: the relaxation's own most likely architecture: the argmax of its edge x op distribution
  (times the edge weights when edges are normalised), or a learned controller's greedy decoding (DARTS,
  section 2.4; ENAS, section 2.2).
* ``random_search`` (RS-WS, Li and Talwalkar, UAI 2019, section 3): ``derive_samples`` uniformly drawn
  architectures of the space (DARTS: cells of two inputs per node) are scored by their loss on the latest validation
  batch with the one-shot weights, the best kept.
* ``evolution`` (SPOS, Guo et al., ECCV 2020, section 3.3): the same budget spent by regularized evolution.

The two searches score single paths (:func:`~nascore.optimizers.components.ranking.oneshot_scores`, batch
statistics), so they need single-path edges; the supernet is then validated on the chosen architecture after
SPOS's BN recalibration on the latest training batch.  The choice is cached per step and depends only on the run's
seed, the step and that batch (saved in the state), so a resumed run chooses the same.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch

from nascore.optimizers.components.evolution import RandomSampler, RegularizedEvolution, black_box_search
from nascore.optimizers.components.ranking import Columns, oneshot_scores
from nascore.optimizers.components.registry import override_setting, registry
from nascore.optimizers.components.sampling import generator_for
from nascore.settings import Settings, setting

DERIVATIONS = registry("derivation", "Derivation", "derivation", "How the reported architecture is chosen.")



class DerivationSettings(Settings):
    """How a one-shot method picks its architecture."""

    title = "Derivation"

    derivation: str | None = override_setting(DERIVATIONS, "Override how the reported architecture is chosen.",
                                              source="the method's preset (rsws: random_search, spos: evolution, ...)")
    derive_samples: int = setting(50, "Architectures scored with the one-shot weights to choose the one reported "
                                      "(derivations random_search and evolution).",
                                  gt=0, source="NASBoard's choice (RS-WS, Li and Talwalkar 2019, score 1000)",
                                  label='Architectures scored to derive')


class Derivation:
    """The relaxation's own choice (``distribution``)."""

    #: scores single architectures with the one-shot weights (needs single-path edges and the latest batches)
    one_shot: ClassVar[bool] = False

    def __init__(self, method: Any):
        self.method = method

    def choose(self) -> Columns | None:
        """The architecture as one column per edge row, or None: derive from the distribution."""
        return self.method.relaxation.choose()


class RandomSearchDerivation(Derivation):
    one_shot = True

    def __init__(self, method: Any):
        super().__init__(method)
        self._chosen: tuple[int, Columns] | None = None

    def searcher(self, generator: torch.Generator) -> RandomSampler:
        return RandomSampler(self.method.space.architecture_rule(), generator)

    def choose(self) -> Columns:
        """The best of ``derive_samples`` architectures by one-shot validation loss (cached per step)."""
        method = self.method
        if self._chosen is not None and self._chosen[0] == method.steps:
            return self._chosen[1]
        generator = generator_for(method.config.seed, f"{method.name}-choose-{method.steps}")
        sampler = self.searcher(generator)
        if method.rank_batch is None:  # nothing trained yet: any architecture
            best = sampler.random_arch()
        else:
            batch = method.rank_batch
            best, _ = black_box_search(sampler, lambda arch: -oneshot_scores(method.model, [arch], [batch])[0][0],
                                       method.config.derive_samples)
        self._chosen = (method.steps, best)
        return best

    def forget(self) -> None:
        self._chosen = None


class EvolutionDerivation(RandomSearchDerivation):
    def searcher(self, generator: torch.Generator) -> RandomSampler:
        budget = self.method.config.derive_samples
        population = max(2, min(20, budget // 2))
        return RegularizedEvolution(self.method.space.architecture_rule(), generator, population_size=population,
                                    sample_size=max(1, min(5, population // 2)))


DERIVATIONS.add("distribution", Derivation, "the relaxation's most likely architecture (argmax, greedy controller)",
                "DARTS (Liu et al., ICLR 2019), section 2.4; ENAS (Pham et al., ICML 2018), section 2.2")
DERIVATIONS.add("random_search", RandomSearchDerivation, "best of derive_samples uniform draws by one-shot loss",
                "RS-WS (Li and Talwalkar, UAI 2019), section 3", settings=(DerivationSettings,))
DERIVATIONS.add("evolution", EvolutionDerivation, "regularized evolution over derive_samples one-shot scores",
                "SPOS (Guo et al., ECCV 2020), section 3.3", settings=(DerivationSettings,))
