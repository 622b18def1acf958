"""The words of the experiment page's expected-cost chart (ProxylessNAS's hardware-aware term): its title, axis
and legends, by the run's cost model, so the page only draws the ``expected_cost`` events."""
from __future__ import annotations

from typing import Any, Mapping

#: per cost model: the chart's words and the factor the page divides the event's values by
CHARTS: dict[str, dict[str, Any]] = {
    "latency": {"title": "Expected latency of the architecture distribution", "yTitle": "ms per image (worker's device)",
                "legend": "expected latency", "reference": "reference (uniform distribution)", "scale": 1.0},
    "flops": {"title": "Expected FLOPs of the architecture distribution", "yTitle": "million MACs per image",
              "legend": "expected FLOPs", "reference": "reference (uniform distribution)", "scale": 1e6},
}


def cost_chart(config: Mapping[str, Any]) -> dict[str, Any]:
    """The chart's words for a run of ``config`` (the events say whether there is anything to draw)."""
    chart = dict(CHARTS.get(str(config.get("cost_model") or "latency"), CHARTS["latency"]))
    if config.get("cost_reference"):
        chart["reference"] = "reference (cost_reference)"
    return chart
