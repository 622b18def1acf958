"""Read-side queries. Visibility lives here: users see their own experiments, staff see all."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import Http404

from webapp.experiments.models import Event, Experiment, Kind, Status, Tag
from webapp.experiments.presenters.formats import fixed

#: sort keys the list accepts, to the ordering they mean (nulls last for accuracy)
SORTS: dict[str, Any] = {
    "created": F("created_at").asc(),
    "-created": F("created_at").desc(),
    "name": F("name").asc(),
    "-name": F("name").desc(),
    "status": F("status").asc(),
    "-status": F("status").desc(),
    "acc": F("best_val_acc").asc(nulls_last=True),
    "-acc": F("best_val_acc").desc(nulls_last=True),
    "started": F("started_at").asc(nulls_last=True),
    "-started": F("started_at").desc(nulls_last=True),
}


def visible_experiments(user: Any) -> QuerySet[Experiment]:
    qs = Experiment.objects.select_related("owner")
    if user.is_staff:
        return qs
    return qs.filter(owner=user)


def get_experiment(user: Any, pk: Any) -> Experiment:
    """The experiment if ``user`` may see it; Http404 otherwise (never 403: ids are not disclosed)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("no such experiment") from None
    exp = visible_experiments(user).filter(pk=pk).first()
    if exp is None:
        raise Http404("no such experiment")
    return exp


@dataclass
class ListFilters:
    q: str = ""
    status: str = ""
    space: str = ""
    optimizer: str = ""
    dataset: str = ""
    sort: str = "-created"
    #: curation: a tag name; "1" for starred or baseline only; archived "" hides them, "include" or "only"
    tag: str = ""
    starred: str = ""
    baseline: str = ""
    archived: str = ""
    kind: str = ""


#: what the archived filter accepts: hidden by default, shown with the others, or alone
ARCHIVED_CHOICES = {"": "hide archived", "include": "with archived", "only": "archived only"}


def list_filters_from(params: Any) -> ListFilters:
    """Read filters from a query dict, dropping values that are not allowed (and NUL characters, which no stored
    text holds and PostgreSQL refuses in a query)."""

    def text(key: str) -> str:
        return str(params.get(key) or "").replace("\x00", "")

    f = ListFilters(
        q=text("q").strip()[:200],
        status=params.get("status") or "",
        space=text("space")[:50],
        optimizer=text("optimizer")[:50],
        dataset=text("dataset")[:50],
        sort=params.get("sort") or "-created",
        tag=" ".join(text("tag").split())[:50],
        starred="1" if params.get("starred") in ("1", "true", "on") else "",
        baseline="1" if params.get("baseline") in ("1", "true", "on") else "",
        archived=params.get("archived") or "",
        kind=params.get("kind") or "",
    )
    if f.archived not in ARCHIVED_CHOICES:
        f.archived = ""
    if f.kind not in Kind.values:
        f.kind = ""
    if f.status not in Status.values:
        f.status = ""
    if f.sort not in SORTS:
        f.sort = "-created"
    return f


def filtered_experiments(user: Any, f: ListFilters) -> QuerySet[Experiment]:
    qs = visible_experiments(user)
    if f.q:
        cond = Q(name__icontains=f.q) | Q(space__iexact=f.q) | Q(optimizer__iexact=f.q) | Q(dataset__iexact=f.q)
        if f.q.lstrip("#").isdigit():
            cond |= Q(pk=int(f.q.lstrip("#")))
        if user.is_staff:
            cond |= Q(owner__username__icontains=f.q)
        qs = qs.filter(cond)
    for name in ("status", "space", "optimizer", "dataset", "kind"):
        value = getattr(f, name)
        if value:
            qs = qs.filter(**{name: value})
    if f.tag:
        qs = qs.filter(tags__name__iexact=f.tag)  # names are unique per owner, so no experiment matches twice
    if f.starred:
        qs = qs.filter(starred=True)
    if f.baseline:
        qs = qs.filter(is_baseline=True)
    if f.archived == "":
        qs = qs.filter(archived=False)
    elif f.archived == "only":
        qs = qs.filter(archived=True)
    return qs.order_by(SORTS[f.sort], "-id")


def tag_names(user: Any) -> list[str]:
    """The tags in use on the experiments ``user`` sees, for the tag filter."""
    tags = Tag.objects.all() if user.is_staff else Tag.objects.filter(owner=user)
    return sorted(set(tags.filter(experiments__isnull=False).values_list("name", flat=True)), key=str.lower)


def facet_values(user: Any) -> dict[str, list[str]]:
    """Distinct spaces, optimizers and datasets among the user's experiments, for filter menus."""
    qs = visible_experiments(user)
    return {name: sorted(set(qs.values_list(name, flat=True))) for name in ("space", "optimizer", "dataset")}


def events_after(experiment: Experiment, after: int, limit: int) -> list[dict[str, Any]]:
    """Events with seq > after, in order, at most ``limit`` of them (one indexed range scan)."""
    rows = Event.objects.filter(experiment=experiment, seq__gt=after).order_by("seq").values_list("seq", "type", "payload")[:limit]
    return [{**payload, "seq": seq, "type": etype} for seq, etype, payload in rows]


#: the distribution an optimizer reports for the heatmap (the ``kind`` of its arch events), in words
DISTRIBUTION_KINDS = {
    "softmax": "softmax weights",
    "gumbel": "Gumbel-softmax means",
    "dirichlet": "Dirichlet means",
    "frequency": "sampling frequencies",
    "policy": "controller probabilities",
}
EARLY_STOP_MODES = {"none": "no early stopping", "es": "DARTS-ES", "ada": "DARTS-ADA"}


def distribution_kind(experiment: Experiment) -> str:
    """The readable kind of the run's latest architecture distribution; empty before the first one."""
    kind = (Event.objects.filter(experiment=experiment, type="arch").order_by("-seq")
            .values_list("payload__kind", flat=True).first())
    if not kind:
        return ""
    return DISTRIBUTION_KINDS.get(str(kind), str(kind))


def curvature_summary(experiment: Experiment) -> dict[str, Any]:
    """What the stored curvature, early-stop and regularization-change events say, for the page as served.

    ``points``: the current trajectory (one point per epoch; DARTS-ADA's rolled-back points dropped),
    ``early_stop``: the early_stop event or None, ``changes``: the regularization changes in order,
    ``summary``: one line in words, ``empty``: what the page says before the first point.
    """
    rows = (Event.objects.filter(experiment=experiment, type__in=("curvature", "early_stop", "regularization_change"))
            .order_by("seq").values_list("type", "payload"))
    points: dict[int, dict[str, Any]] = {}
    early_stop: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = []
    for etype, payload in rows:
        if etype == "curvature":
            points[int(payload.get("epoch") or 0)] = payload
        elif etype == "early_stop":
            early_stop = payload
        else:
            changes.append(payload)
            restored = int(payload.get("restored_epoch") or 0)
            points = {e: p for e, p in points.items() if e <= restored}
    trajectory = [points[e] for e in sorted(points)]
    config = experiment.config or {}
    every = config.get("curvature_every")
    mode = str(config.get("early_stop") or "none")
    window = (early_stop or {}).get("window", config.get("early_stop_window", 5))
    threshold = (early_stop or {}).get("threshold", config.get("early_stop_threshold", 0.75))
    if every is None:
        empty = "This run did not track the curvature."
    elif every == 0:
        empty = "Curvature tracking is off for this run (curvature every 0 epochs)."
    else:
        empty = (f"The dominant Hessian eigenvalue appears after the first curvature point "
                 f"(every {every} epoch{'s' if every != 1 else ''}).")
    parts = [f"{len(trajectory)} curvature point{'s' if len(trajectory) != 1 else ''}"]
    if trajectory:
        last = trajectory[-1]
        line = f"latest dominant eigenvalue {fixed(last.get('eigenvalue'), 4)} after epoch {last.get('epoch')}"
        if isinstance(last.get("trace"), (int, float)):
            line += f" (trace {fixed(last.get('trace'), 3)})"
        parts.append(line)
        ratios = [p["ratio"] for p in trajectory if isinstance(p.get("ratio"), (int, float))]
        if ratios:
            parts.append(f"earlier/later {fixed(ratios[-1], 3)}")
    parts.append(f"{EARLY_STOP_MODES.get(mode, mode)}, window k = {window}, threshold {threshold}")
    if changes:
        parts.append(f"{len(changes)} regularization change{'s' if len(changes) != 1 else ''}")
    return {"points": trajectory, "early_stop": early_stop, "changes": changes,
            "summary": " · ".join(parts) if trajectory else "", "empty": empty}


def collapse_text(counts: Any) -> str:
    """``{"skip_connections": {cell: n}, "parameter_free": {cell: n}}`` in words."""
    if not isinstance(counts, dict) or not isinstance(counts.get("skip_connections"), dict):
        return ""
    free = counts.get("parameter_free") or {}
    return " · ".join(f"{cell}: {n} skip, {free.get(cell, '?')} parameter-free"
                      for cell, n in counts["skip_connections"].items())
