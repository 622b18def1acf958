"""Stored curvature events gain the early-stopping criterion the engine now sends with each point (earlier,
later, ratio, window, threshold), so the page reads it instead of recomputing it; events stored before are
filled in here with the same function the engine uses."""
from __future__ import annotations

from typing import Any

from django.db import migrations

BATCH = 500


def fill_ratios(apps: Any, schema_editor: Any) -> None:
    from nascore.early_stopping import should_stop

    Event = apps.get_model("experiments", "Event")
    Experiment = apps.get_model("experiments", "Experiment")
    experiments = Event.objects.filter(type="curvature").values_list("experiment_id", flat=True).distinct()
    for exp_id in experiments:
        config = Experiment.objects.filter(pk=exp_id).values_list("config", flat=True).first() or {}
        window = int(config.get("early_stop_window", 5))
        threshold = float(config.get("early_stop_threshold", 0.75))
        rounds: dict[int, list[Any]] = {}
        changed = []
        for event in Event.objects.filter(experiment_id=exp_id, type="curvature").order_by("seq"):
            payload = event.payload
            points = [p for p in rounds.get(payload.get("round", 0), []) if p["epoch"] < payload["epoch"]]
            points.append(payload)
            rounds[payload.get("round", 0)] = points
            if "ratio" in payload:
                continue
            decision = should_stop([p.get("eigenvalue") for p in points], window, threshold)
            payload.update(earlier=decision.earlier, later=decision.later, ratio=decision.ratio, window=window,
                           threshold=threshold)
            changed.append(event)
        Event.objects.bulk_update(changed, ["payload"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("experiments", "0003_curation_retrain")]
    operations = [migrations.RunPython(fill_ratios, migrations.RunPython.noop)]
