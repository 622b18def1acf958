"""A search's config: composed of the settings models its components declare, validated in one place.

Every setting is declared once, beside the component that uses it (:mod:`nascore.settings`); this module only
lists which models a search is made of (:data:`SEARCH_SETTINGS`, one line per component) and adds the checks
that need the whole config (the space's size, the method's own constraints, this machine's device).  The config
stays flat, one key per setting, so experiments, ``result.json`` files and checkpoints written before keep working.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from nascore.curvature import CurvatureSettings
from nascore.data import DataSettings, SearchSplitSettings
from nascore.early_stopping import EarlyStopSettings
from nascore.evaluators import EvaluatorSettings
from nascore.optimizers import COMPONENT_SETTINGS, OPTIMIZERS, MethodSettings, component_settings
from nascore.optimizers.blackbox import TrainingEvaluatorSettings
from nascore.optimizers.components.samplers import SamplerSettings
from nascore.optimizers.components.weights import WeightOptimizerSettings
from nascore.optimizers.presets import preset_defaults
from nascore.protocols import ProtocolSettings, apply_protocol
from nascore.runtime import RuntimeSettings, SearchLoopSettings, device_errors
from nascore.selection import DEFAULT_SELECT_SAMPLES, SelectionSettings, effective_select_samples
from nascore.settings import (PLACEMENT_FIELDS, ConfigError, RunConfig, Settings, defaults_of, fields_of, info_of,
                              validate_settings, without_placement)
from nascore.spaces import SpaceSettings, get_space, size_errors

#: the settings models a search is composed of, in the order forms and help show them
SEARCH_SETTINGS: list[type[Settings]] = [
    ProtocolSettings, SpaceSettings, MethodSettings, DataSettings, SearchSplitSettings, SearchLoopSettings, RuntimeSettings,
    WeightOptimizerSettings, *COMPONENT_SETTINGS, TrainingEvaluatorSettings, SamplerSettings, EvaluatorSettings,
    CurvatureSettings, EarlyStopSettings, SelectionSettings,
]


def search_settings() -> list[type[Settings]]:
    """The models of a search as registered now: :data:`SEARCH_SETTINGS`, then those of any registered component
    or method not listed there (so registering a component or a method registers its settings too)."""
    models = list(SEARCH_SETTINGS)
    models.extend(m for m in component_settings() if m not in models)
    for cls in OPTIMIZERS.values():
        models.extend(m for m in cls.settings if m not in models)
    return models


class SearchConfig(RunConfig):
    """A validated search config (every setting of :data:`SEARCH_SETTINGS`, flat)."""

    groups = staticmethod(search_settings)

    def __init__(self, **values: Any):
        super().__init__(**preset_defaults(values))


def method_errors(config: dict[str, Any]) -> dict[str, str]:
    """What the chosen method says of the whole config (e.g. PC-DARTS: channels a multiple of K)."""
    return OPTIMIZERS[config["optimizer"]].config_errors(get_space(config["space"]), config)


def validate_config(raw: Mapping[str, Any] | SearchConfig, check_device: bool = True) -> SearchConfig:
    """Return a :class:`SearchConfig` for ``raw`` or raise :class:`ConfigError` naming every problem.

    ``check_device=False`` checks only that the device is well-formed, not that this machine has it
    (a web server queues CUDA runs for GPU workers without having a GPU itself).
    """
    if isinstance(raw, RunConfig):
        raw = raw.to_dict()
    if isinstance(raw, Mapping):
        # the protocol's values first, the given settings over them, then the method preset's defaults for the rest
        raw = preset_defaults(apply_protocol(raw))
    final = [size_errors, method_errors] + ([device_errors] if check_device else [])
    return SearchConfig.trusted(validate_settings(search_settings(), raw, final_checks=final))


#: settings added after configs were first stored, with the value that reproduces how a config stored without them
#: ran (a new config that leaves them out gets the setting's default instead: CIFAR searches are now augmented)
AS_BEFORE: dict[str, Any] = {"search_augment": "none"}


def as_stored(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stored config (an experiment's, a checkpoint's) with the settings added since at the values it ran with."""
    return {**AS_BEFORE, **config}


def effective(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the settings whose None means "the dataset's" resolved (``search_augment``), so two configs
    that run alike compare equal (a checkpoint stored before the setting, and today's config of the same run)."""
    from nascore.data import DATASETS, default_augment_of
    from nascore.userdata import is_user_name

    out = dict(config)
    name = out.get("dataset")
    if (name in DATASETS or is_user_name(name)) and "search_augment" in out and out["search_augment"] is None:
        out["search_augment"] = default_augment_of(name)
    return out


def defaults() -> dict[str, Any]:
    """The default config as a plain dict (what a form pre-fills)."""
    return defaults_of(search_settings())


def field_names() -> list[str]:
    return list(fields_of(search_settings()))


def choices() -> dict[str, list[str]]:
    """The names accepted for each choice field."""
    out = {name: info_of(f).choice_names() for name, (_, f) in fields_of(search_settings()).items()
           if info_of(f).choices is not None}
    out["order"] = ["1", "2"]
    return out


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


__all__ = ["AS_BEFORE", "as_stored", "ConfigError", "SearchConfig", "SEARCH_SETTINGS", "PLACEMENT_FIELDS", "DEFAULT_SELECT_SAMPLES",
           "validate_config", "defaults", "choices", "field_names", "load_config_file", "without_placement",
           "effective_select_samples"]
