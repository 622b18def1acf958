"""Search configuration: defaults from the paper, loading from JSON/YAML, validation.

Validation collects every problem as ``{field: message}`` so a CLI, a form or an API
can show them all at once; nothing is built or written before a config is valid.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config that cannot run; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class SearchConfig:
    space: str = "darts"
    optimizer: str = "darts"
    order: int = 1
    dataset: str = "digits"
    data_dir: str = "data"
    download: bool = False
    epochs: int = 10
    batch_size: int = 64
    channels: int | None = None  # None: the space's default
    layers: int | None = None  # None: the space's default (cells; cells per stage for nb201)
    seed: int = 0
    device: str = "auto"
    train_portion: float = 0.5
    w_lr: float = 0.025
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    grad_clip: float = 5.0
    alpha_lr: float = 3e-4
    alpha_beta1: float = 0.5
    alpha_beta2: float = 0.999
    alpha_weight_decay: float = 1e-3
    steps_per_epoch: int | None = None  # cap on steps per epoch (quick runs); None: whole split
    step_log_every: int = 10
    num_workers: int = 0
    channels_last: bool = True  # NHWC layout: much faster convolutions on CPU
    # RobustDARTS (nascore.curvature, nascore.early_stopping)
    curvature_every: int = 1  # epochs between curvature points (dominant Hessian eigenvalue); 0 = off
    curvature_samples: int = 64  # the first N validation examples (fixed order), in batches of batch_size
    curvature_trace_samples: int = 4  # Rademacher probes of the Hutchinson trace estimate; 0 = no trace
    early_stop: str = "none"  # "none", "es" (DARTS-ES: stop) or "ada" (DARTS-ADA: roll back, more weight decay)
    early_stop_window: int = 5  # k: curvature points averaged on each side of the comparison
    early_stop_threshold: float = 0.75  # act when mean(earlier k) / mean(last k) falls below this
    ada_factor: float = 3.0  # DARTS-ADA multiplies the weight decay by this at each trigger
    ada_max_increases: int = 4  # ... at most this many times (3e-4 * 3**4 = 243e-4, the paper's maximum)
    # the other one-shot methods (nascore.optimizers)
    tau_max: float = 10.0  # GDAS: Gumbel temperature at the first epoch ...
    tau_min: float = 0.1  # ... falling linearly to this at the last
    pc_k: int = 4  # PC-DARTS: 1/K of each edge's channels go through the ops
    perturb: str = "none"  # SmoothDARTS: "none", "random" (SDARTS-RS) or "adversarial" (SDARTS-ADV, PGD)
    perturb_epsilon: float = 0.3  # its radius at the last epoch (rising linearly from 0.03)
    perturb_steps: int = 7  # PGD steps of the adversarial perturbation
    drop_path: float = 0.0  # oneshot: probability of dropping each op's output per example
    drop_path_schedule: str = "constant"  # "constant" (DropPath) or "linear" (ScheduledDropPath: 0 up to drop_path)
    derive_samples: int = 50  # oneshot, rsws, spos: architectures scored with the one-shot weights to choose one
    eval_steps: int = 100  # re, rs: training steps of each candidate's short stand-alone training
    population_size: int = 20  # re: population (the oldest member dies)
    tournament_size: int = 5  # re: members sampled to pick each parent
    # black-box search (rs, re, reinforce, ls): how candidates are scored (nascore.evaluators)
    evaluator: str = "train"  # "train": a short stand-alone training each; "table": a tabular benchmark's lookup
    budget: int = 150  # table: per seeded run, queries or simulated training seconds (budget_unit)
    budget_unit: str = "queries"  # table: "queries" or "seconds" (each query costs its cell's training time)
    runs: int = 1  # table: seeded runs (seeds seed, seed + 1, ...), for mean and spread over seeds
    reinforce_lr: float = 0.05  # reinforce: Adam's learning rate on the policy's logits
    benchmark_dir: str | None = None  # where imported tables are; None: $NASCORE_BENCHMARK_DIR or ~/.nascore/benchmarks
    # choosing the final architecture after the search (nascore.selection)
    select_samples: int | None = None  # M architectures ranked with the one-shot weights; None: the method's default, 0: off
    select_top_k: int = 4  # K of them (the best by one-shot validation accuracy) retrained from scratch; >= 2, <= M
    select_epochs: int = 2  # epochs of each retraining, on the search's train split, scored on its validation split

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELD_NAMES = [f.name for f in fields(SearchConfig)]
#: settings that say where and how fast a run happens, not what it computes: a checkpoint
#: written under other values of these may be resumed (another worker, another data folder)
PLACEMENT_FIELDS = frozenset({"data_dir", "download", "device", "num_workers", "benchmark_dir"})


def without_placement(config: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed (a search's or a stand-alone training's): every
    setting but where the run happens."""
    return {k: v for k, v in config.items() if k not in PLACEMENT_FIELDS}

_POSITIVE_INTS = ("epochs", "batch_size", "channels", "layers", "steps_per_epoch", "step_log_every",
                  "curvature_samples", "early_stop_window", "ada_max_increases")
_POSITIVE_FLOATS = ("w_lr", "alpha_lr", "grad_clip")
_NON_NEGATIVE_FLOATS = ("w_lr_min", "w_momentum", "w_weight_decay", "alpha_weight_decay")


def defaults() -> dict[str, Any]:
    """The default config as a plain dict (what a form pre-fills)."""
    return SearchConfig().to_dict()


def choices() -> dict[str, list[str]]:
    """The names accepted for each choice field."""
    from nascore.data import DATASETS
    from nascore.evaluators import BUDGET_UNITS, EVALUATORS
    from nascore.optimizers import OPTIMIZERS
    from nascore.spaces import SPACES

    return {
        "space": sorted(SPACES),
        "optimizer": sorted(OPTIMIZERS),
        "dataset": sorted(DATASETS),
        "device": ["auto", "cpu", "cuda"],
        "order": ["1", "2"],
        "early_stop": ["none", "es", "ada"],
        "perturb": ["none", "random", "adversarial"],
        "drop_path_schedule": ["constant", "linear"],
        "evaluator": list(EVALUATORS),
        "budget_unit": list(BUDGET_UNITS),
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_config(raw: dict[str, Any] | SearchConfig, check_device: bool = True) -> SearchConfig:
    """Return a :class:`SearchConfig` for ``raw`` or raise :class:`ConfigError` naming every problem.

    ``check_device=False`` checks only that the device is well-formed, not that this machine has it
    (a web server queues CUDA runs for GPU workers without having a GPU itself).
    """
    if isinstance(raw, SearchConfig):
        raw = raw.to_dict()
    if not isinstance(raw, dict):
        raise ConfigError({"config": "must be a mapping of settings"})
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - set(FIELD_NAMES))
    for key in unknown:
        errors[key] = f"unknown setting {key!r}"
    values = {k: v for k, v in raw.items() if k in FIELD_NAMES}
    cfg_dict = {**defaults(), **values}
    known = choices()
    for name in ("space", "optimizer", "dataset"):
        value = cfg_dict[name]
        if not isinstance(value, str) or value not in known[name]:
            errors[name] = f"unknown {name} {value!r}; choose one of: {', '.join(known[name])}"
    from nascore.device import DEVICE_CHOICES, resolve_device

    device = cfg_dict["device"]
    if not check_device:
        if not isinstance(device, str) or not (device in DEVICE_CHOICES or device.startswith("cuda:")
                                               and device[5:].isdigit()):
            errors["device"] = f"unknown device {device!r}; choose one of: {', '.join(DEVICE_CHOICES)} (or cuda:N)"
    else:
        try:
            resolve_device(device)
        except ValueError as exc:
            errors["device"] = str(exc)
    if cfg_dict["order"] not in (1, 2) or isinstance(cfg_dict["order"], bool):
        errors["order"] = f"order must be 1 (first order) or 2 (second order), not {cfg_dict['order']!r}"
    for name in _POSITIVE_INTS:
        value = cfg_dict[name]
        if value is None and name in ("channels", "layers", "steps_per_epoch"):
            continue
        if not _is_int(value) or value <= 0:
            errors[name] = f"{name} must be a positive integer, not {value!r}"
    for name in _POSITIVE_FLOATS + _NON_NEGATIVE_FLOATS:
        value = cfg_dict[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            errors[name] = f"{name} must be a number, not {value!r}"
        elif name in _POSITIVE_FLOATS and value <= 0:
            errors[name] = f"{name} must be positive, not {value!r}"
        elif value < 0:
            errors[name] = f"{name} must not be negative, not {value!r}"
    for name in ("alpha_beta1", "alpha_beta2", "train_portion"):
        value = cfg_dict[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
            errors[name] = f"{name} must be a number strictly between 0 and 1, not {value!r}"
    if not _is_int(cfg_dict["seed"]) or cfg_dict["seed"] < 0:
        errors["seed"] = f"seed must be a non-negative integer, not {cfg_dict['seed']!r}"
    if not _is_int(cfg_dict["num_workers"]) or cfg_dict["num_workers"] < 0:
        errors["num_workers"] = f"num_workers must be a non-negative integer, not {cfg_dict['num_workers']!r}"
    if not isinstance(cfg_dict["channels_last"], bool):
        errors["channels_last"] = "channels_last must be true or false"
    if not isinstance(cfg_dict["download"], bool):
        errors["download"] = "download must be true or false"
    if not isinstance(cfg_dict["data_dir"], str) or not cfg_dict["data_dir"]:
        errors["data_dir"] = "data_dir must be a folder path"
    errors.update(_robust_darts_errors(cfg_dict))
    errors.update(_method_setting_errors(cfg_dict))
    errors.update(_selection_errors(cfg_dict))
    from nascore.evaluators import evaluator_errors

    errors.update(evaluator_errors(cfg_dict))
    if not errors:
        from nascore.spaces import get_space

        space_errors = get_space(cfg_dict["space"]).check_size(cfg_dict["channels"], cfg_dict["layers"])
        errors.update(space_errors)
        from nascore.optimizers import get_optimizer

        errors.update(get_optimizer(cfg_dict["optimizer"]).config_errors(get_space(cfg_dict["space"]), cfg_dict))
    if errors:
        raise ConfigError(errors)
    return SearchConfig(**cfg_dict)


def _robust_darts_errors(cfg: dict[str, Any]) -> dict[str, str]:
    """Problems with the curvature / early-stopping settings."""
    errors: dict[str, str] = {}
    for name in ("curvature_every", "curvature_trace_samples"):
        value = cfg[name]
        if not _is_int(value) or value < 0:
            what = "epochs between curvature points, 0 = off" if name == "curvature_every" else "probes, 0 = no trace"
            errors[name] = f"{name} must be a non-negative integer ({what}), not {value!r}"
    mode = cfg["early_stop"]
    if mode not in ("none", "es", "ada"):
        errors["early_stop"] = (f"early_stop must be 'none', 'es' (DARTS-ES: stop early) or 'ada' "
                                f"(DARTS-ADA: adapt the regularization), not {mode!r}")
    elif mode != "none" and _is_int(cfg["curvature_every"]) and cfg["curvature_every"] == 0:
        errors["early_stop"] = (f"early_stop {mode!r} watches the curvature: set curvature_every to a positive "
                                "number of epochs (it is 0, curvature off)")
    elif mode != "none":
        from nascore.optimizers import OPTIMIZERS
        from nascore.optimizers.base import SearchOptimizer

        cls = OPTIMIZERS.get(cfg["optimizer"])
        if cls is not None and cls.weights_from is SearchOptimizer.weights_from:
            errors["early_stop"] = (f"the {cfg['optimizer']} optimizer has no continuous architecture parameters "
                                    "to measure curvature on; early stopping needs them")
        elif cls is not None and mode == "ada" and cls.set_weight_decay is SearchOptimizer.set_weight_decay:
            errors["early_stop"] = f"the {cfg['optimizer']} optimizer cannot change its weight decay, which 'ada' needs"
    threshold = cfg["early_stop_threshold"]
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < float("inf"):
        errors["early_stop_threshold"] = (f"early_stop_threshold must be a positive number (the paper: 0.75), "
                                          f"not {threshold!r}")
    factor = cfg["ada_factor"]
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 1 < factor < float("inf"):
        errors["ada_factor"] = f"ada_factor must be a number greater than 1 (the paper: 3), not {factor!r}"
    return errors


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _method_setting_errors(cfg: dict[str, Any]) -> dict[str, str]:
    """Problems with the settings of GDAS, PC-DARTS, SmoothDARTS and one-shot training (each method
    checks which of them apply to it: ``SearchOptimizer.config_errors``)."""
    from nascore.optimizers.components.perturb import PERTURBATIONS
    from nascore.optimizers.components.schedules import DROP_PATH_SCHEDULES

    errors: dict[str, str] = {}
    for name in ("tau_max", "tau_min"):
        if not _number(cfg[name]) or not 0 < cfg[name] < float("inf"):
            errors[name] = f"{name} must be a positive number (GDAS: 10 down to 0.1), not {cfg[name]!r}"
    if "tau_max" not in errors and "tau_min" not in errors and cfg["tau_min"] > cfg["tau_max"]:
        errors["tau_min"] = f"tau_min ({cfg['tau_min']}) must not exceed tau_max ({cfg['tau_max']}): the temperature falls"
    if not _is_int(cfg["pc_k"]) or cfg["pc_k"] <= 0:
        errors["pc_k"] = f"pc_k must be a positive integer (PC-DARTS: 4), not {cfg['pc_k']!r}"
    if cfg["perturb"] not in PERTURBATIONS:
        errors["perturb"] = f"perturb must be one of {', '.join(PERTURBATIONS)}, not {cfg['perturb']!r}"
    if not _number(cfg["perturb_epsilon"]) or not 0 < cfg["perturb_epsilon"] <= 1:
        errors["perturb_epsilon"] = (f"perturb_epsilon must be a number in (0, 1] (a radius on weights in [0, 1]; "
                                     f"SmoothDARTS: 0.3), not {cfg['perturb_epsilon']!r}")
    if not _is_int(cfg["perturb_steps"]) or cfg["perturb_steps"] <= 0:
        errors["perturb_steps"] = f"perturb_steps must be a positive integer (SDARTS-ADV: 7), not {cfg['perturb_steps']!r}"
    if not _number(cfg["drop_path"]) or not 0 <= cfg["drop_path"] < 1:
        errors["drop_path"] = f"drop_path must be a probability in [0, 1), not {cfg['drop_path']!r}"
    for name in ("derive_samples", "eval_steps", "population_size", "tournament_size"):
        if not _is_int(cfg[name]) or cfg[name] <= 0:
            errors[name] = f"{name} must be a positive integer, not {cfg[name]!r}"
    if cfg["drop_path_schedule"] not in DROP_PATH_SCHEDULES:
        errors["drop_path_schedule"] = (f"drop_path_schedule must be one of {', '.join(DROP_PATH_SCHEDULES)}, "
                                        f"not {cfg['drop_path_schedule']!r}")
    return errors


#: architectures sampled and ranked after the search by the methods that select by default (sampling-based
#: one-shot training: oneshot, rsws, spos, enas); the others select only when ``select_samples`` is set
DEFAULT_SELECT_SAMPLES = 20


def effective_select_samples(config: dict[str, Any] | SearchConfig) -> int:
    """M, the number of architectures the selection stage samples (0: no selection stage): ``select_samples``,
    or when it is None the default of the config's optimizer (so a config records the user's choice, not ours)."""
    cfg = config.to_dict() if isinstance(config, SearchConfig) else config
    value = cfg.get("select_samples")
    if value is not None:
        return int(value)
    from nascore.optimizers import OPTIMIZERS

    cls = OPTIMIZERS.get(cfg.get("optimizer", "darts"))
    return DEFAULT_SELECT_SAMPLES if cls is not None and cls.selects_by_default else 0


def _selection_errors(cfg: dict[str, Any]) -> dict[str, str]:
    """Problems with the settings of the selection stage (sample M, retrain the top K for some epochs)."""
    errors: dict[str, str] = {}
    samples, top_k, epochs = cfg["select_samples"], cfg["select_top_k"], cfg["select_epochs"]
    if samples is not None and (not _is_int(samples) or samples < 0):
        errors["select_samples"] = (f"select_samples must be a non-negative integer (architectures ranked with the "
                                    f"one-shot weights; 0 = no selection, empty = the method's default), not {samples!r}")
    if not _is_int(top_k) or top_k < 2:
        errors["select_top_k"] = (f"select_top_k must be an integer of at least 2 (the architectures retrained from "
                                  f"scratch; a rank correlation needs two), not {top_k!r}")
    if not _is_int(epochs) or epochs <= 0:
        errors["select_epochs"] = f"select_epochs must be a positive integer (epochs of each retraining), not {epochs!r}"
    if not errors and cfg["optimizer"] in choices()["optimizer"]:
        m = effective_select_samples(cfg)
        if m and top_k > m:
            where = f"select_samples ({m})" if samples is not None else f"the {m} architectures {cfg['optimizer']} samples by default"
            errors["select_top_k"] = f"select_top_k ({top_k}) must not exceed {where}: only ranked architectures are retrained"
    return errors


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML config file into a dict; raise ConfigError with a readable reason."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError({"config": f"config file {str(path)!r} does not exist"})
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # the parsers' own messages name line and column
        raise ConfigError({"config": f"cannot parse {path.name}: {exc}"}) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError({"config": f"{path.name} must hold a mapping of settings, not {type(data).__name__}"})
    return data
