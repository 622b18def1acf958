"""The named one-shot methods as presets of components, and the config keys that override them.

A preset names one component of each kind (:mod:`nascore.optimizers.components.registry`); a config may override
any of them (``relaxation``, ``partial_channels``, ``edge_normalization``, ``regularizer``, ``derivation``,
``warmup_epochs``, ``arch_every``, ``cost_penalty``: None means the preset's); a preset may also change the default
of other settings (``defaults``: proxyless's architecture Adam), applied to a config that leaves them out.  ``perturb`` and ``order`` keep the meaning they had
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
    #: the hardware-cost term of the architecture loss (:mod:`nascore.optimizers.components.cost`)
    cost_penalty: str = "none"
    #: settings whose default this preset changes (a config that leaves them out gets these)
    defaults: tuple[tuple[str, Any], ...] = ()
    departs: str = ""


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("darts", "DARTS (Liu, Simonyan and Yang, ICLR 2019), sections 2.1-2.4", "softmax"),
    Preset("gdas", "GDAS (Dong and Yang, CVPR 2019), section 3.2", "gumbel_hard",
           departs="the reduction cell is searched like the normal one (the paper also reports a fixed, "
                   "hand-designed reduction cell)"),
    # warm-up: yuhuixu1993/PC-DARTS train_search.py:156, ``if epoch>=15: architect.step(...)`` (of 50 epochs)
    Preset("pcdarts", "PC-DARTS (Xu et al., ICLR 2020), sections 3.2-3.3 and 4.2 (15 warm-up epochs)", "softmax",
           partial_channels="pc_k", edge_normalization=True, warmup_epochs=15),
    Preset("proxyless", "ProxylessNAS (Cai, Zhu and Han, ICLR 2019), sections 3.2-3.3", "binary_gates",
           # the authors' architecture optimizer: Adam, lr 1e-3, betas (0, 0.999), eps 1e-8, no weight decay
           # (mit-han-lab/proxylessnas, search/imagenet_arch_search.py lines 80-84; nas_manager.py line 52)
           defaults=(("alpha_lr", 1e-3), ("alpha_beta1", 0.0), ("alpha_beta2", 0.999), ("alpha_weight_decay", 0.0)),
           departs="the hardware-cost term is off by default, as in the authors' code without --target_hardware; "
                   "the paper's hardware-aware searches turn it on (cost_penalty additive, cost_model latency or "
                   "flops, cost_weight lambda); the reference cost is the uniform distribution's (the code's: a "
                   "target network's)"),
    # regulariser: the authors' default reg_type 'l2' (the alphas' weight decay), not the KL (regularizers.py)
    Preset("drnas", "DrNAS (Chen et al., ICLR 2021), sections 2.2-2.3", "dirichlet",
           departs="no progressive learning (the paper's partial channels growing while the space is pruned)"),
    Preset("enas", "ENAS (Pham et al., ICML 2018), section 2.2", "controller",
           departs="on DARTS cells the controller picks each node's two inputs and their ops, as the paper's, but "
                   "scores inputs with a linear head over the nodes (the paper: attention over their hidden states) "
                   "and never the same input twice (the supernet has one edge per pair)"),
    Preset("rsws", "RS-WS (Li and Talwalkar, UAI 2019), section 3", "uniform", derivation="random_search",
           departs="derive_samples 50 architectures scored (the paper: 1000) on one validation batch"),
    Preset("spos", "SPOS (Guo et al., ECCV 2020), sections 3.1-3.3", "uniform", derivation="evolution",
           departs="a small regularized evolution (population up to 20) instead of the paper's genetic algorithm"),
    Preset("oneshot", "One-shot (Bender et al., ICML 2018), section 3", "all_paths", derivation="random_search",
           departs="drop-path off by default (the paper tunes it: drop_path, drop_path_schedule)"),
)}

#: the config keys that override a preset's components (None: the preset's)
OVERRIDES = ("relaxation", "partial_channels", "edge_normalization", "regularizer", "derivation", "warmup_epochs",
             "arch_every", "cost_penalty")


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
    cost_penalty: str
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


def preset_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config with its preset's defaults for the settings it leaves out (a stored config holds every
    setting, so it keeps its meaning)."""
    preset = PRESETS.get(config.get("optimizer", "darts")) if isinstance(config.get("optimizer", "darts"), str) \
        else None
    return {**dict(preset.defaults if preset else ()), **config}


def preset_setting_text(name: str) -> str:
    """The presets that change the default of setting ``name`` ("proxyless: 0.001"), for help texts."""
    return "; ".join(f"{p.name}: {dict(p.defaults)[name]:g}" for p in PRESETS.values() if name in dict(p.defaults))


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
