"""The named one-shot methods as presets of components, and the config keys that override them.

A preset names one component of each kind (:mod:`nascore.optimizers.components.registry`); a config may override
any of them (``relaxation``, ``partial_channels``, ``edge_normalization``, ``regularizer``, ``derivation``,
``warmup_epochs``, ``arch_every``: None means the preset's).  ``perturb`` and ``order`` keep the meaning they had
(every preset: none and 1).  ``pc_k`` is the pcdarts preset's K, so a stored config of another method with
``pc_k: 4`` does not turn partial channels on; ``partial_channels`` does.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from nascore.optimizers.components.registry import PRESET_TEXTS


@dataclass(frozen=True)
class Preset:
    """A named method: its components and the paper it follows (``departs``: where NASBoard's preset does not)."""

    name: str
    paper: str
    relaxation: str
    derivation: str = "distribution"
    #: K, or the name of the setting that holds it (pcdarts: ``pc_k``); 1 is off
    partial_channels: int | str = 1
    edge_normalization: bool = False
    regularizer: str = "none"
    warmup_epochs: int = 0
    arch_every: int = 1
    departs: str = ""


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("darts", "DARTS (Liu, Simonyan and Yang, ICLR 2019), sections 2.1-2.4", "softmax"),
    Preset("gdas", "GDAS (Dong and Yang, CVPR 2019), section 3.2", "gumbel_hard",
           departs="the reduction cell is searched like the normal one (the paper also reports a fixed, "
                   "hand-designed reduction cell)"),
    # warm-up: yuhuixu1993/PC-DARTS train_search.py:156, ``if epoch>=15: architect.step(...)`` (of 50 epochs)
    Preset("pcdarts", "PC-DARTS (Xu et al., ICLR 2020), sections 3.2-3.3 and 4.2 (15 warm-up epochs)", "softmax",
           partial_channels="pc_k", edge_normalization=True, warmup_epochs=15),
    Preset("proxyless", "ProxylessNAS (Cai, Zhu and Han, ICLR 2019), section 3.2", "binary_gates",
           departs="no latency loss (the paper's hardware-aware term)"),
    # regulariser: the authors' default reg_type 'l2' (the alphas' weight decay), not the KL (regularizers.py)
    Preset("drnas", "DrNAS (Chen et al., ICLR 2021), sections 2.2-2.3", "dirichlet",
           departs="no progressive learning (the paper's partial channels growing while the space is pruned)"),
    Preset("enas", "ENAS (Pham et al., ICML 2018), section 2.2", "controller",
           departs="the controller picks an op per edge of a fixed cell graph (the paper's also picks the inputs)"),
    Preset("rsws", "RS-WS (Li and Talwalkar, UAI 2019), section 3", "uniform", derivation="random_search",
           departs="derive_samples 50 architectures scored (the paper: 1000) on one validation batch"),
    Preset("spos", "SPOS (Guo et al., ECCV 2020), sections 3.1-3.3", "uniform", derivation="evolution",
           departs="a small regularized evolution (population up to 20) instead of the paper's genetic algorithm"),
    Preset("oneshot", "One-shot (Bender et al., ICML 2018), section 3", "all_paths", derivation="random_search",
           departs="drop-path off by default (the paper tunes it: drop_path, drop_path_schedule)"),
)}

#: the config keys that override a preset's components (None: the preset's)
OVERRIDES = ("relaxation", "partial_channels", "edge_normalization", "regularizer", "derivation", "warmup_epochs",
             "arch_every")


@dataclass(frozen=True)
class Recipe:
    """The components a run uses: its preset's, overridden by the config; ``chosen_by`` names the config key that
    decided each (the override's key, or ``optimizer`` for the preset's choice), so a refusal names it."""

    relaxation: str
    derivation: str
    partial_channels: int
    edge_normalization: bool
    regularizer: str
    warmup_epochs: int
    arch_every: int
    perturbation: str
    order: int
    chosen_by: dict[str, str]


def resolve(preset: Preset, config: Mapping[str, Any]) -> Recipe:
    """The components of ``preset`` with the config's overrides (a stored config without them: the preset)."""
    values: dict[str, Any] = {}
    chosen_by: dict[str, str] = {}
    for key in OVERRIDES:
        given = config.get(key)
        values[key] = getattr(preset, key) if given is None else given
        chosen_by[key] = "optimizer" if given is None else key
    if isinstance(values["partial_channels"], str):  # the preset's K is a setting (pcdarts: pc_k)
        chosen_by["partial_channels"] = values["partial_channels"]
        values["partial_channels"] = int(config.get(values["partial_channels"], 4))
    return Recipe(**values, perturbation=config.get("perturb", "none"), order=int(config.get("order", 1)),
                  chosen_by=chosen_by)


def preset_choice_text(kind: str) -> str:
    """What an empty override of ``kind`` means, preset by preset (the form's and the CLI's help)."""
    users: dict[str, list[str]] = {}
    for p in PRESETS.values():
        value = getattr(p, kind)
        shown = ("on" if value else "off") if isinstance(value, bool) else str(value)
        users.setdefault(shown, []).append(p.name)
    return "the method's preset: " + "; ".join(f"{value} for {', '.join(names)}" for value, names in users.items())


def preset_table() -> list[dict[str, Any]]:
    """Every preset with its components (``components --json``)."""
    return [asdict(p) for p in PRESETS.values()]


PRESET_TEXTS.append(preset_choice_text)
