"""Engine values as JSON can store them (the database's JSON fields, result.json): what runs and retrains save."""
from __future__ import annotations

import math
from typing import Any


def jsonable(value: Any) -> Any:
    """Event data as strict JSON: NaN and infinities become null (PostgreSQL rejects them)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "__float__"):
        return jsonable(float(value))
    return str(value)
