"""The words about protocols on the pages: which paper's protocol a run started from (experiment page), and what the
new-experiment form fills in when one is picked (the form's page config; static/js/newform.js only copies values)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from nascore.optimizers.presets import PRESETS
from nascore.protocols import PROTOCOLS


def protocol_line(config: Mapping[str, Any] | None) -> str:
    """"Started from the darts_cifar10 protocol: DARTS on CIFAR-10 (...); source: ...", or "" without one."""
    name = (config or {}).get("protocol")
    protocol = PROTOCOLS.get(name) if isinstance(name, str) else None
    if protocol is None:
        return ""
    text = f"Started from the {protocol.name} protocol: {protocol.title}; source: {protocol.source}."
    if protocol.departs:
        text += f" NASBoard departs from it: {protocol.departs}."
    return text


def form_config(field_names: Iterable[str], initial: Mapping[str, Any]) -> dict[str, Any]:
    """What the form fills in when a protocol is picked: each protocol's values (of the fields the form has), the
    line under the select, and the fields' initial values to put back when the protocol changes; and, when a
    method is picked, the defaults its preset changes (ProxylessNAS's architecture Adam) for the fields the user
    left as they were."""
    names = set(field_names)

    def shown(value: Any) -> Any:
        return "" if value is None else ("true" if value is True else "false" if value is False else str(value))

    return {
        "values": {name: {k: shown(v) for k, v in p.values.items() if k in names} for name, p in PROTOCOLS.items()},
        "lines": {name: protocol_line({"protocol": name}) for name in PROTOCOLS},
        "initial": {k: shown(v) for k, v in initial.items() if k in names},
        "presets": {name: {k: shown(v) for k, v in p.defaults if k in names} for name, p in PRESETS.items() if p.defaults},
    }
