"""Papers' published search protocols as named sets of settings ("protocols").

A protocol is applied first and the settings a user gives override it (:func:`apply_protocol`, called by
:func:`nascore.config.validate_config`), so a form pre-fills from it and a CLI flag changes one value of it.  The
config records the protocol it started from (``protocol``).  Each protocol cites where its values come from (the
paper's section and the authors' reference file), fits some spaces and methods only (a run that leaves them is
refused with the reason, :func:`protocol_errors`), and says where NASBoard departs from the paper.

A method *preset* (:mod:`nascore.optimizers.presets`) is what a method is made of; a protocol is how its paper ran
it (epochs, batch size, learning rates, data).  Presets never set such values; protocols set them explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from nascore.settings import Settings, setting


@dataclass(frozen=True)
class Protocol:
    """One paper's search protocol: the settings it sets, what it fits, and its sources."""

    name: str
    title: str
    #: the paper and section, and the authors' file the values are read from
    source: str
    values: Mapping[str, Any]
    #: setting -> the values a run under this protocol may take (the space and method the paper searched)
    fits: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    #: where NASBoard's protocol departs from the paper
    departs: str = ""
    #: a check of what the protocol needs beyond settings (an imported table's schedule): a reason, or None
    needs: Callable[[Mapping[str, Any]], str | None] | None = None

    def describe(self) -> dict[str, Any]:
        """What ``protocols --json`` prints."""
        return {"name": self.name, "title": self.title, "source": self.source, "values": dict(self.values),
                "fits": {k: list(v) for k, v in self.fits.items()}, "departs": self.departs}


#: DARTS's CIFAR-10 search (quark0/darts, cnn/train_search.py argparse defaults; paper section A.1.1)
_DARTS_WEIGHTS = {"w_lr": 0.025, "w_lr_min": 0.001, "w_momentum": 0.9, "w_weight_decay": 3e-4, "w_nesterov": False,
                  "grad_clip": 5.0}
_DARTS_ARCH = {"alpha_lr": 3e-4, "alpha_beta1": 0.5, "alpha_beta2": 0.999, "alpha_weight_decay": 1e-3}
_CIFAR_SEARCH = {"dataset": "cifar10", "train_portion": 0.5, "search_augment": "crop_flip"}
#: NAS-Bench-201's weight-sharing searches (D-X-Y/AutoDL-Projects configs/nas-benchmark/algos/DARTS.config and
#: GDAS.config: cosine from 0.025 to 0.001, SGD momentum 0.9 with Nesterov, weight decay 5e-4, batch 64; the
#: scripts-search/algos/*.sh pass --arch_learning_rate 0.0003 --arch_weight_decay 0.001; the cell network C=16, N=5)
_NB201_WEIGHTS = {"w_lr": 0.025, "w_lr_min": 0.001, "w_momentum": 0.9, "w_weight_decay": 5e-4, "w_nesterov": True}
_NB201_SPACE = {"space": "nb201", "channels": 16, "layers": 5, "batch_size": 64, "alpha_lr": 3e-4,
                "alpha_weight_decay": 1e-3, **_CIFAR_SEARCH}


def _needs_12_epoch_table(config: Mapping[str, Any]) -> str | None:
    """NAS-Bench-201's black-box protocol rewards each query with its cell's 12-epoch validation accuracy."""
    from nascore.benchmarks import find_table
    from nascore.benchmarks.search import PROTOCOL_EPOCHS, table_epochs

    table = find_table(config["space"], config["dataset"], config.get("benchmark_dir"))
    if table is None:
        return None  # the evaluator's own message says that no table is imported, and how to import one
    epochs = table_epochs(table)
    if epochs == PROTOCOL_EPOCHS:
        return None
    return (f"the nb201_blackbox protocol rewards each query with its cell's {PROTOCOL_EPOCHS}-epoch validation "
            f"accuracy, but the imported {config['dataset']} table holds the {epochs}-epoch figures; import the "
            f"official file's {PROTOCOL_EPOCHS}-epoch schedule (python -m nascore benchmark import FILE --epochs "
            f"{PROTOCOL_EPOCHS}), or run without a protocol with query_cost 12_epochs (the paper's cost, estimated; "
            f"the {epochs}-epoch reward)")


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol(
        "darts_cifar10", "DARTS on CIFAR-10 (Liu et al., ICLR 2019)",
        "DARTS (Liu, Simonyan and Yang, ICLR 2019), sections 3.1 and A.1.1; quark0/darts cnn/train_search.py "
        "(argparse defaults) and cnn/utils.py _data_transforms_cifar10",
        {"space": "darts", "optimizer": "darts", "channels": 16, "layers": 8, "epochs": 50, "batch_size": 64,
         **_DARTS_WEIGHTS, **_DARTS_ARCH, **_CIFAR_SEARCH},
        fits={"space": ("darts",), "optimizer": ("darts",)},
        departs="order stays the config's (default 1, the code's default; the paper's best cells come from order 2)"),
    Protocol(
        "pcdarts_cifar10", "PC-DARTS on CIFAR-10 (Xu et al., ICLR 2020)",
        "PC-DARTS (Xu et al., ICLR 2020), section 4.2; yuhuixu1993/PC-DARTS train_search.py (argparse defaults: "
        "batch 256, lr 0.1 to 0.001, arch lr 6e-4; `if epoch>=15: architect.step`)",
        {"space": "darts", "optimizer": "pcdarts", "channels": 16, "layers": 8, "epochs": 50, "batch_size": 256,
         **_DARTS_WEIGHTS, "w_lr": 0.1, **_DARTS_ARCH, "alpha_lr": 6e-4, "pc_k": 4, "warmup_epochs": 15,
         **_CIFAR_SEARCH},
        fits={"space": ("darts",), "optimizer": ("pcdarts",)},
        departs="the architecture batch is the next of a cycling validation stream (the code draws a fresh random "
                "batch with next(iter(valid_queue)))"),
    Protocol(
        "gdas_cifar10", "GDAS on CIFAR-10 (Dong and Yang, CVPR 2019)",
        "GDAS (Dong and Yang, CVPR 2019), section 4.1; D-X-Y/AutoDL-Projects configs/search-opts/"
        "GDAS-NASNet-CIFAR.config (250 epochs, batch 256, 0.025 to 0.001, Nesterov, decay 5e-4), "
        "scripts-search/GDAS-search-NASNet-space.sh (tau 10 to 0.1, arch lr 3e-4, arch decay 1e-3) and "
        "configs/search-archs/GDAS-NASNet-CIFAR.config (C=16, 2 cells per stage: 8 cells)",
        {"space": "darts", "optimizer": "gdas", "channels": 16, "layers": 8, "epochs": 250, "batch_size": 256,
         **_NB201_WEIGHTS, "grad_clip": 5.0, **_DARTS_ARCH, "tau_max": 10.0, "tau_min": 0.1, **_CIFAR_SEARCH},
        fits={"space": ("darts",), "optimizer": ("gdas",)},
        departs="the reduction cell is searched (the paper's headline cell uses a fixed reduction cell)"),
    Protocol(
        "nb201_darts", "NAS-Bench-201 weight-sharing protocol, DARTS (Dong and Yang, ICLR 2020)",
        "NAS-Bench-201 (Dong and Yang, ICLR 2020), section 5; D-X-Y/AutoDL-Projects "
        "configs/nas-benchmark/algos/DARTS.config (50 epochs, batch 64, 0.025 to 0.001, decay 5e-4, Nesterov) "
        "and scripts-search/algos/DARTS-V1.sh (arch lr 3e-4, arch decay 1e-3)",
        {"optimizer": "darts", "epochs": 50, **_NB201_WEIGHTS, "grad_clip": 5.0, **_NB201_SPACE},
        fits={"space": ("nb201",), "optimizer": ("darts",)}),
    Protocol(
        "nb201_gdas", "NAS-Bench-201 weight-sharing protocol, GDAS (Dong and Yang, ICLR 2020)",
        "NAS-Bench-201 (Dong and Yang, ICLR 2020), section 5; D-X-Y/AutoDL-Projects "
        "configs/nas-benchmark/algos/GDAS.config (240 epochs, batch 64, 0.025 to 0.001, decay 5e-4, Nesterov) "
        "and scripts-search/algos/GDAS.sh (tau 10 to 0.1, arch lr 3e-4, arch decay 1e-3)",
        {"optimizer": "gdas", "epochs": 240, **_NB201_WEIGHTS, "grad_clip": 5.0, "tau_max": 10.0, "tau_min": 0.1,
         **_NB201_SPACE},
        fits={"space": ("nb201",), "optimizer": ("gdas",)}),
    Protocol(
        "robustdarts_es", "RobustDARTS: DARTS-ES on S1-S4 (Zela et al., ICLR 2020)",
        "RobustDARTS (Zela et al., ICLR 2020), sections 2 and 4.3; automl/RobustDARTS src/search/args.py "
        "(argparse defaults: space s1, 50 epochs, batch 64, DARTS's learning rates, C=16, 8 cells, window 5)",
        {"space": "s1", "optimizer": "darts", "channels": 16, "layers": 8, "epochs": 50, "batch_size": 64,
         **_DARTS_WEIGHTS, **_DARTS_ARCH, **_CIFAR_SEARCH, "curvature_every": 1, "early_stop": "es",
         "early_stop_window": 5},
        fits={"space": ("s1", "s2", "s3", "s4", "darts"), "optimizer": ("darts",)},
        departs="the dominant eigenvalue is measured on the first curvature_samples validation examples (the "
                "code: the whole validation split)"),
    Protocol(
        "nb201_blackbox", "NAS-Bench-201 black-box protocol (Dong and Yang, ICLR 2020)",
        "NAS-Bench-201 (Dong and Yang, ICLR 2020), section 5 (12,000 s budget, 500 runs); D-X-Y/AutoDL-Projects "
        "exps/algos/R_EA.py train_and_eval (reward: 12-epoch validation accuracy, cost: 12-epoch train-all-time + "
        "valid-per-time) and scripts-search/algos/R-EA.sh (--time_budget 12000 --ea_population 10 "
        "--ea_sample_size 3)",
        {"space": "nb201", "dataset": "cifar10", "optimizer": "re", "evaluator": "table", "budget": 12000,
         "budget_unit": "seconds", "query_cost": "12_epochs", "population_size": 10, "tournament_size": 3,
         "runs": 100},
        fits={"space": ("nb201",), "optimizer": ("re", "rs", "reinforce"), "evaluator": ("table",),
              "budget_unit": ("seconds",), "query_cost": ("12_epochs",)},
        departs="100 seeded runs (the paper: 500); the reward is the table's 12-epoch validation accuracy averaged over the benchmark's seeds (the "
                "code reads one random seed's: get_more_info(..., hp='12', is_random=True)); reported test "
                "accuracy is the same table's",
        needs=_needs_12_epoch_table),
)}


def protocol_labels() -> dict[str, str]:
    return {name: p.title for name, p in PROTOCOLS.items()}


class ProtocolSettings(Settings):
    """A paper's published search protocol, applied before the settings given with it."""

    title = "Protocol"
    group = "protocol"

    protocol: str | None = setting(None, "A paper's search protocol: its settings are applied first; the "
                                         "settings you give override them. Recorded with the run.",
                                   choices=protocol_labels, none_means="no protocol: each setting's own default",
                                   source="NASBoard's choice: none", label="Protocol", basic=True)

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        return protocol_errors(config)


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r}; choose one of: {', '.join(PROTOCOLS)}") from None


def apply_protocol(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` over the values of the protocol it names (an unknown or absent protocol: ``raw`` as it is, and the
    protocol setting's own check names the choices)."""
    name = raw.get("protocol")
    protocol = PROTOCOLS.get(name) if isinstance(name, str) else None
    return {**protocol.values, **raw} if protocol is not None else dict(raw)


def protocol_errors(config: Mapping[str, Any]) -> dict[str, str]:
    """Why the config leaves its protocol (a space or method the paper did not search with it), or what the
    protocol needs that is missing; ``{"protocol": reason}`` or nothing."""
    name = config["protocol"]
    if name is None:
        return {}
    protocol = PROTOCOLS[name]
    for key, allowed in protocol.fits.items():
        value = config[key]
        if value not in allowed:
            shown = " or ".join(repr(v) for v in allowed)
            return {"protocol": f"the {name} protocol ({protocol.title}) runs with {key} {shown}, not {value!r}: "
                                f"choose {key} {shown}, or no protocol"}
    if protocol.needs is not None:
        reason = protocol.needs(config)
        if reason:
            return {"protocol": reason}
    return {}


def render_text() -> str:
    """``python -m nascore protocols``: each protocol, its source and its values."""
    lines = []
    for p in PROTOCOLS.values():
        lines.append(f"{p.name}: {p.title}")
        lines.append(f"  source: {p.source}")
        lines.append("  sets: " + ", ".join(f"{k}={v}" for k, v in p.values.items()))
        if p.fits:
            lines.append("  fits: " + "; ".join(f"{k} {' or '.join(map(str, v))}" for k, v in p.fits.items()))
        if p.departs:
            lines.append(f"  departs: {p.departs}")
    return "\n".join(lines)
