"""Read-side queries. Visibility lives here: users see their own experiments, staff see all."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import Http404

from webapp.experiments.models import Event, Experiment, Status

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


def list_filters_from(params: Any) -> ListFilters:
    """Read filters from a query dict, dropping values that are not allowed."""
    f = ListFilters(
        q=(params.get("q") or "").strip()[:200],
        status=params.get("status") or "",
        space=(params.get("space") or "")[:50],
        optimizer=(params.get("optimizer") or "")[:50],
        dataset=(params.get("dataset") or "")[:50],
        sort=params.get("sort") or "-created",
    )
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
    for name in ("status", "space", "optimizer", "dataset"):
        value = getattr(f, name)
        if value:
            qs = qs.filter(**{name: value})
    return qs.order_by(SORTS[f.sort], "-id")


def facet_values(user: Any) -> dict[str, list[str]]:
    """Distinct spaces, optimizers and datasets among the user's experiments, for filter menus."""
    qs = visible_experiments(user)
    return {name: sorted(set(qs.values_list(name, flat=True))) for name in ("space", "optimizer", "dataset")}


def events_after(experiment: Experiment, after: int, limit: int) -> list[dict[str, Any]]:
    """Events with seq > after, in order, at most ``limit`` of them (one indexed range scan)."""
    rows = Event.objects.filter(experiment=experiment, seq__gt=after).order_by("seq").values_list("seq", "type", "payload")[:limit]
    return [{**payload, "seq": seq, "type": etype} for seq, etype, payload in rows]
