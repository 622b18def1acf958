"""The components one-shot methods are composed of and the presets, described for people and programs
(``python -m nascore components [--json]``): each kind with the key that overrides it, each component with its
paper and settings (from the settings models' JSON schema), each preset with its components and paper."""
from __future__ import annotations

from typing import Any

from nascore.optimizers import COMPONENT_SETTINGS
from nascore.optimizers.components.registry import KINDS
from nascore.optimizers.presets import OVERRIDES, PRESETS, Preset
from nascore.settings import Settings

#: the kinds in the order a method is composed (kinds registered elsewhere follow)
ORDER = ("relaxation", "partial_channels", "edge_normalization", "perturbation", "regularizer", "cost_penalty",
         "update_schedule", "derivation")
_KEY_SCHEMA_KEYS = ("type", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "enum")


def setting_schema(model: type[Settings], name: str) -> dict[str, Any]:
    """One setting as the model's JSON schema says it: type, bounds, choices, default, description, source."""
    prop = model.model_json_schema()["properties"][name]
    branches = prop.get("anyOf", [prop])
    typed = next((b for b in branches if b.get("type") != "null"), {})
    out: dict[str, Any] = {k: typed[k] for k in _KEY_SCHEMA_KEYS if k in typed}
    if len(branches) > 1:
        out["nullable"] = True
    out.update(default=prop.get("default"), description=prop.get("description", ""), source=prop.get("x-source", ""))
    if "x-none-means" in prop:
        out["none_means"] = prop["x-none-means"]
    return out


def _settings_of(models: tuple[type, ...], skip: set[str]) -> dict[str, Any]:
    return {name: setting_schema(model, name) for model in models for name in model.model_fields if name not in skip}


def kinds_in_order() -> list[str]:
    return [k for k in ORDER if k in KINDS] + [k for k in KINDS if k not in ORDER]


def preset_components(preset: Preset) -> dict[str, Any]:
    """The component of each kind a preset uses (``order`` and ``perturb``: every preset's default, 1 and none)."""
    out: dict[str, Any] = {}
    for kind in kinds_in_order():
        reg = KINDS[kind]
        if reg.key in OVERRIDES:
            value = getattr(preset, reg.key)
            out[kind] = ("on" if value else "off") if isinstance(value, bool) else (
                "on" if isinstance(value, str) or value > 1 else "off") if kind == "partial_channels" else value
        elif kind == "update_schedule":
            out[kind] = {"order": 1, "warmup_epochs": preset.warmup_epochs, "arch_every": preset.arch_every}
        elif kind == "perturbation":
            out[kind] = "none"
    if isinstance(preset.partial_channels, str):
        out["partial_channels_k"] = preset.partial_channels
    elif preset.partial_channels > 1:
        out["partial_channels_k"] = preset.partial_channels
    return out


def catalogue() -> dict[str, Any]:
    """Everything ``components --json`` prints."""
    keys = {reg.key for reg in KINDS.values()}
    models = {name: model for model in COMPONENT_SETTINGS for name in model.model_fields}
    kinds = {}
    for kind in kinds_in_order():
        reg = KINDS[kind]
        kinds[kind] = {
            "title": reg.title, "about": reg.about, "key": reg.key,
            "override": setting_schema(models[reg.key], reg.key) if reg.key in models else None,
            "components": [{"name": c.name, "summary": c.summary, "paper": c.paper,
                            "settings": _settings_of(c.settings, keys)} for c in reg.entries.values()],
        }
    presets = [{"name": p.name, "paper": p.paper, "departs": p.departs, "components": preset_components(p)}
               for p in PRESETS.values()]
    return {"kinds": kinds, "presets": presets, "overrides": list(OVERRIDES) + ["perturb", "order"]}


def render_text(info: dict[str, Any]) -> str:
    """The catalogue for a terminal: kinds and their components, then the presets."""
    lines = ["One-shot methods are compositions of components; a config key overrides a preset's choice.", ""]
    for kind in info["kinds"].values():
        lines.append(f"{kind['title']} (--{kind['key'].replace('_', '-')}): {kind['about']}")
        for c in kind["components"]:
            lines.append(f"  {c['name']:<14} {c['summary']}  [{c['paper']}]")
            for name, s in c["settings"].items():
                lines.append(f"  {'':<14}   --{name.replace('_', '-')} (default {s['default']}): {s['description']}")
        lines.append("")
    lines.append("Presets:")
    for p in info["presets"]:
        parts = ", ".join(f"{k}={v}" for k, v in p["components"].items() if k != "update_schedule")
        lines.append(f"  {p['name']:<10} {parts}")
        lines.append(f"  {'':<10} {p['paper']}" + (f"; departs: {p['departs']}" if p["departs"] else ""))
    lines += ["", "Example: python -m nascore search --optimizer gdas --partial-channels 4 --edge-normalization"]
    return "\n".join(lines)


def papers_of(model: type[Settings]) -> str:
    """The papers of the components whose choice ``model`` declares ("softmax: DARTS ...; gumbel_hard: GDAS ..."),
    for a form's box of that model; empty for other models."""
    fields = set(model.model_fields)
    return " ".join("; ".join(f"{c.name}: {c.paper}" for c in reg.entries.values()) + "."
                    for reg in KINDS.values() if reg.key in fields)
