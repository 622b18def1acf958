"""Choosing the final architecture after the search (:mod:`nascore.selection`): sample M, rank them with the
one-shot weights, retrain the top K.  It starts from the final checkpoint's state and is deterministic, so a run
resumed during it redoes it to the same end."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from nascore.early_stopping import collapse_or_none
from nascore.selection import SelectionOutcome, effective_select_samples, select_final_architecture
from nascore.stages.base import SearchStage

if TYPE_CHECKING:
    from nascore.runner import SearchRun


class SelectionStage(SearchStage):
    def __init__(self) -> None:
        #: the stage's outcome, once it ran
        self.outcome: SelectionOutcome | None = None

    def after_search(self, run: "SearchRun") -> bool:
        if not effective_select_samples(run.cfg):
            return True
        stop = run.history.early_stop
        if stop:  # DARTS-ES: the returned epoch's architecture and distribution
            kept = run.history.archive[stop["returned_epoch"]]
            derived, probs = kept.genotype, {ct: torch.tensor(rows) for ct, rows in kept.alphas.items()}
        else:
            derived, probs = run.optimizer.derive(), run.optimizer.distribution()
        self.outcome = select_final_architecture(
            run.space, run.optimizer, run.model, run.data, run.cfg, channels=run.channels, layers=run.layers,
            steps=run.steps_per_epoch, device=run.device, derived=derived, probs=probs, emit=run.bus.emit,
            stop_check=run.stop_check)
        return self.outcome.status == "finished"

    def add_to_result(self, run: "SearchRun", result: dict[str, Any]) -> None:
        """The stage's block; when it finished, its choice becomes the genotype (the search's own stays as
        ``search_genotype``) with its size and collapse counts."""
        if self.outcome is None:
            return
        result["selection"] = self.outcome.block
        if self.outcome.status != "finished":
            return
        chosen = self.outcome.genotype
        size = run.derived_size(chosen)
        result.update({"search_genotype": result["genotype"], "genotype": chosen, "genotype_params": size["params"],
                       "flops": size["flops"]})
        result["collapse"] = {**result.get("collapse", {}), "genotype": collapse_or_none(chosen)}
