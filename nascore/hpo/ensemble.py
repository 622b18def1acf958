"""Auto-PyTorch Tabular's ensemble: the best trials' networks combined by greedy ensemble selection (Caruana,
Niculescu-Mizil, Crew and Ksikes, ICML 2004), as auto-sklearn and Auto-PyTorch build theirs
(automl/Auto-PyTorch, autoPyTorch/components/ensembles/ensemble_selection.py: "Ensemble Selection algorithm extracted
from auto-sklearn", selection with replacement, ``ensemble_size`` rounds).

Each round adds (with replacement) the member whose addition gives the averaged validation probabilities the best
validation accuracy; of the nested ensembles the rounds build, the best on validation is returned (Caruana et al.,
section 2: "return the ensemble from the nested set of ensembles that has maximum performance on the hillclimb
set"; auto-sklearn keeps the last one), so it is never worse on validation than the best single member.  Ties, frequent with accuracy on small validation sets, go to the lower validation log loss and
then to the better-ranked trial, so the ensemble is deterministic; auto-sklearn breaks them at random with its seed.
The members are the ``nbest`` complete trials, each trained again exactly as its trial ran (its parameters, its seed,
all epochs), which reproduces its validation accuracy; only then are the test probabilities read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from nascore.hpo.tabular_data import TabularSplit

#: rounds of selection: auto-sklearn's and Auto-PyTorch's default ``ensemble_size``
SELECTION_ROUNDS = 50


def _log_loss(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def greedy_selection(val_probs: Sequence[np.ndarray], y_val: np.ndarray, rounds: int = SELECTION_ROUNDS) -> list[int]:
    """How many times each member is picked by the best of the nested ensembles that ``rounds`` rounds of greedy
    selection with replacement build; members are ordered best first (ties go to the earlier one)."""
    counts = [0] * len(val_probs)
    total = np.zeros_like(val_probs[0], dtype=np.float64)
    best_counts, best_ensemble_key = list(counts), None
    for size in range(1, rounds + 1):
        best_key, best = None, 0
        for i, probs in enumerate(val_probs):
            mean = (total + probs) / size
            key = (-float(np.mean(mean.argmax(1) == y_val)), round(_log_loss(mean, y_val), 9), i)  # float noise is no gain
            if best_key is None or key < best_key:
                best_key, best = key, i
        counts[best] += 1
        total += val_probs[best]
        assert best_key is not None
        if best_ensemble_key is None or best_key[:2] < best_ensemble_key:
            best_ensemble_key, best_counts = best_key[:2], list(counts)
    return best_counts


def build_ensemble(trials: Sequence[Mapping[str, Any]], split: "TabularSplit", cfg: Mapping[str, Any],
                   nbest: int, seed_of: Callable[[int], int]) -> dict[str, Any] | None:
    """The ensemble of the ``nbest`` best complete trials (as :func:`nascore.hpo.study.trial_record` writes them;
    ``seed_of(number)`` is the training seed trial ``number`` ran with): its members (trial number, weight,
    validation accuracy of the retrained member), validation and test accuracy; None when no trial completed."""
    import optuna

    from nascore.hpo.tabular import train_configuration
    from nascore.hpo.tabular_space import suggest

    complete = sorted((t for t in trials if t["state"] == "complete"), key=lambda t: (-t["value"], t["number"]))
    members = complete[:nbest]
    if not members:
        return None
    val_probs, test_probs, accs = [], [], []
    for t in members:
        params = suggest(optuna.trial.FixedTrial(t["params"]), split.num_features)
        run = train_configuration(params, split, cfg["max_epochs"], seed=seed_of(t["number"]),
                                  keep_probabilities=True)
        uniform = 1.0 / split.num_classes  # a diverged member's NaNs say nothing: it votes for no class
        val_probs.append(np.nan_to_num(run.probabilities["val"], nan=uniform))
        test_probs.append(np.nan_to_num(run.probabilities["test"], nan=uniform))
        accs.append(run.value)
    counts = greedy_selection(val_probs, split.y_val)
    weights = np.array(counts, dtype=np.float64) / sum(counts)
    val = sum(w * p for w, p in zip(weights, val_probs))
    test = sum(w * p for w, p in zip(weights, test_probs))
    return {"members": [{"trial": t["number"], "weight": round(float(w), 4), "val_acc": acc}
                        for t, w, acc in zip(members, weights, accs) if w > 0],
            "candidates": len(members), "rounds": SELECTION_ROUNDS, "size": sum(counts),
            "val_acc": float(np.mean(val.argmax(1) == split.y_val)),
            "test_acc": float(np.mean(test.argmax(1) == split.y_test))}
