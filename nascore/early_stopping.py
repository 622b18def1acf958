"""DARTS-ES and DARTS-ADA (RobustDARTS, Zela et al., ICLR 2020): act on the curvature trajectory.

At each curvature point the dominant eigenvalue averaged over the last ``window`` (k)
points is compared with its average over the k points before them.  When
``earlier / later < threshold`` (the paper: k=5, 0.75) the curvature is growing fast,
which precedes DARTS's collapse into parameter-free cells, and

* DARTS-ES stops and returns the architecture of the point k points before the trigger
  (k epochs earlier when curvature is measured every epoch);
* DARTS-ADA goes back to that point, multiplies the weight decay by a factor and goes on,
  up to a maximum number of increases, after which the search runs to its end (as the
  paper's code does).  After a roll-back the next decision reads the trajectory up to the
  restored epoch followed by the new points, as the authors' code does (automl/RobustDARTS
  ``src/search/train_search.py:272-274`` restores the eigenvalue tracker saved at the restored
  epoch, ``src/utils.py:357-362``: ``la_tracker.ev = checkpoint['ev']``, and goes on appending);
  ``ada_keep_points false`` reads only the points measured after the latest roll-back.

:func:`should_stop` is the pure decision on a sequence of eigenvalues;
:func:`collapse_counts` counts the usual symptom of collapse in a genotype.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from nascore.ops import PARAMETER_FREE
from nascore.settings import Settings, setting

MODES = ("none", "es", "ada")


class EarlyStopSettings(Settings):
    """DARTS-ES and DARTS-ADA: act when the curvature grows."""

    title = "Curvature and early stopping (RobustDARTS)"
    group = "robust"

    early_stop: str = setting("none", "none; es (DARTS-ES: stop, return the architecture of k epochs before); ada "
                                      "(DARTS-ADA: go back k epochs, raise the weight decay, continue).",
                              choices={"none": "none", "es": "DARTS-ES: stop, return the architecture of k epochs before",
                                       "ada": "DARTS-ADA: go back k epochs, raise the weight decay, continue"},
                              source="NASBoard's choice: off unless asked (RobustDARTS, Zela et al., ICLR 2020)", label='Early stopping')
    early_stop_window: int = setting(5, "k: curvature points averaged on each side of the comparison.", gt=0,
                                     source="RobustDARTS, section 4.3: k = 5", label='Early-stop window k (curvature points)')
    early_stop_threshold: float = setting(0.75, "Act when mean(earlier k) / mean(last k) falls below this.", gt=0,
                                          hint="the paper: 0.75", source="RobustDARTS, section 4.3: 0.75", label='Early-stop threshold')
    ada_factor: float = setting(3.0, "DARTS-ADA multiplies the weight decay by this at each trigger.", gt=1,
                                hint="the paper: 3", source="RobustDARTS, section 4.3: a factor of 3", label='DARTS-ADA weight-decay factor')
    ada_keep_points: bool = setting(True, "DARTS-ADA: after a roll-back, the next decision also reads the curvature "
                                          "points up to the restored epoch; off: only those measured after the "
                                          "roll-back.",
                                    source="RobustDARTS's code: src/search/train_search.py:272-274 restores the "
                                           "eigenvalues recorded up to the restored epoch (src/utils.py:357)",
                                    label="DARTS-ADA keeps the points before a roll-back")
    ada_max_increases: int = setting(4, "DARTS-ADA raises the weight decay at most this many times (3e-4 * 3**4 = "
                                        "243e-4, the paper's maximum).", gt=0, source="RobustDARTS, section 4.3", label='DARTS-ADA maximum increases')

    @classmethod
    def checks(cls, config):
        mode = config["early_stop"]
        if mode != "none" and config["curvature_every"] == 0:
            return {"early_stop": f"early_stop {mode!r} watches the curvature: set curvature_every to a positive "
                                  "number of epochs (it is 0, curvature off)"}
        return {}


@dataclass
class StopDecision:
    """The criterion at the newest point of a sequence.

    ``earlier``/``later``: mean eigenvalue over the k points before the last k, and over
    the last k; ``ratio`` = earlier / later (None when it is not defined); ``trigger_index``
    the newest point's index and ``return_index`` the index k points before it (both None
    while there are fewer than 2k points).
    """

    stop: bool
    earlier: float | None
    later: float | None
    ratio: float | None
    trigger_index: int | None
    return_index: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def should_stop(eigenvalues: Sequence[float], window: int, threshold: float,
                epochs: Sequence[int] | None = None) -> StopDecision:
    """Whether the search should stop (DARTS-ES) or roll back (DARTS-ADA) after the newest point.

    ``eigenvalues`` in the order they were measured; ``epochs`` (same length) only make the
    reason name epochs instead of point numbers.  The ratio is only defined when the later
    average is positive (a curvature that did not grow cannot trigger); a non-finite value (or
    None: a failed measurement) in either window never triggers.
    """
    if window < 1:
        raise ValueError(f"window must be a positive integer, not {window!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, not {threshold!r}")
    if epochs is not None and len(epochs) != len(eigenvalues):
        raise ValueError("epochs and eigenvalues must have the same length")
    n, k = len(eigenvalues), window
    if n < 2 * k:
        return StopDecision(False, None, None, None, None, None,
                            f"{n} of the {2 * k} curvature points needed for a decision")
    def span(a: int, b: int) -> str:
        if epochs is None:
            return f"point {a + 1}" if a == b else f"points {a + 1}-{b + 1}"
        return f"epoch {epochs[a]}" if a == b else f"epochs {epochs[a]}-{epochs[b]}"

    earlier_vals = [math.nan if v is None else float(v) for v in eigenvalues[n - 2 * k: n - k]]
    later_vals = [math.nan if v is None else float(v) for v in eigenvalues[n - k:]]
    trigger, back = n - 1, n - 1 - k
    if not all(math.isfinite(v) for v in earlier_vals + later_vals):
        return StopDecision(False, None, None, None, trigger, back, "a non-finite eigenvalue in the window; no decision")
    earlier, later = sum(earlier_vals) / k, sum(later_vals) / k
    if later <= 0:
        return StopDecision(False, earlier, later, None, trigger, back,
                            f"the mean dominant eigenvalue over {span(n - k, n - 1)} is {_fmt(later)}, not positive: "
                            "the curvature is not growing")
    ratio = earlier / later
    stop = ratio < threshold
    if stop:
        reason = (f"the curvature of the validation loss grew: the dominant Hessian eigenvalue averaged "
                  f"{_fmt(later)} over {span(n - k, n - 1)} against {_fmt(earlier)} over {span(n - 2 * k, n - k - 1)} "
                  f"(earlier/later = {ratio:.3f}, below the threshold {threshold:g}); such growth precedes DARTS's "
                  f"collapse into cells of parameter-free operations")
    else:
        reason = (f"earlier/later = {ratio:.3f} (means {_fmt(earlier)} over {span(n - 2 * k, n - k - 1)} and "
                  f"{_fmt(later)} over {span(n - k, n - 1)}), not below the threshold {threshold:g}")
    return StopDecision(stop, earlier, later, ratio, trigger, back, reason)


def genotype_cells(genotype: Any) -> dict[str, list[str]]:
    """The op of every chosen edge, per cell type, for the genotypes our spaces write.

    DARTS-like dicts (``{"normal": [[op, node], ...], "normal_concat": [...], ...}``) give one
    list per cell key; NAS-Bench-201 strings (``|op~0|+|op~0|op~1|+...``) give ``{"cell": [...]}``.
    """
    if isinstance(genotype, str):
        ops = [item.split("~", 1)[0] for group in genotype.split("+") for item in group.strip("|").split("|") if item]
        return {"cell": ops}
    if isinstance(genotype, dict):
        cells: dict[str, list[str]] = {}
        for key, gene in genotype.items():
            if key.endswith("_concat") or not isinstance(gene, (list, tuple)):
                continue
            cells[key] = [item[0] for item in gene if isinstance(item, (list, tuple)) and item and isinstance(item[0], str)]
        return cells
    raise TypeError(f"cannot read the ops of a genotype of type {type(genotype).__name__}")


def collapse_counts(genotype: Any) -> dict[str, dict[str, int]]:
    """``{"skip_connections": {cell: n}, "parameter_free": {cell: n}}``: skip connections and ops
    without parameters (:data:`nascore.ops.PARAMETER_FREE`, ``none`` included) per cell type."""
    cells = genotype_cells(genotype)
    return {"skip_connections": {ct: sum(op == "skip_connect" for op in ops) for ct, ops in cells.items()},
            "parameter_free": {ct: sum(op in PARAMETER_FREE for op in ops) for ct, ops in cells.items()}}


def collapse_or_none(genotype: Any) -> dict[str, Any]:
    """Skip-connection and parameter-free-op counts per cell, or None for a genotype format we cannot read."""
    try:
        return collapse_counts(genotype)
    except TypeError:
        return {"skip_connections": None, "parameter_free": None}
