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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIELD_NAMES = [f.name for f in fields(SearchConfig)]
#: settings that say where and how fast a run happens, not what it computes: a checkpoint
#: written under other values of these may be resumed (another worker, another data folder)
PLACEMENT_FIELDS = frozenset({"data_dir", "download", "device", "num_workers"})

_POSITIVE_INTS = ("epochs", "batch_size", "channels", "layers", "steps_per_epoch", "step_log_every")
_POSITIVE_FLOATS = ("w_lr", "alpha_lr", "grad_clip")
_NON_NEGATIVE_FLOATS = ("w_lr_min", "w_momentum", "w_weight_decay", "alpha_weight_decay")


def defaults() -> dict[str, Any]:
    """The default config as a plain dict (what a form pre-fills)."""
    return SearchConfig().to_dict()


def choices() -> dict[str, list[str]]:
    """The names accepted for each choice field."""
    from nascore.data import DATASETS
    from nascore.optimizers import OPTIMIZERS
    from nascore.spaces import SPACES

    return {
        "space": sorted(SPACES),
        "optimizer": sorted(OPTIMIZERS),
        "dataset": sorted(DATASETS),
        "device": ["auto", "cpu", "cuda"],
        "order": ["1", "2"],
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
    if not isinstance(cfg_dict["download"], bool):
        errors["download"] = "download must be true or false"
    if not isinstance(cfg_dict["data_dir"], str) or not cfg_dict["data_dir"]:
        errors["data_dir"] = "data_dir must be a folder path"
    if not errors:
        from nascore.spaces import get_space

        space_errors = get_space(cfg_dict["space"]).check_size(cfg_dict["channels"], cfg_dict["layers"])
        errors.update(space_errors)
    if errors:
        raise ConfigError(errors)
    return SearchConfig(**cfg_dict)


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
