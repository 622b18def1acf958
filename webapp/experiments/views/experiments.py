"""HTML pages. Thin: read through selectors, act through services, validate with forms."""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from webapp.experiments.api.stream import can_stream
from webapp.experiments import selectors, services
from webapp.experiments.forms.experiment import ExperimentForm
from webapp.experiments.models import Experiment, Kind, Result, Status
from webapp.experiments.presenters import benchmark, cost, regret
from webapp.experiments.presenters.genotypes import genotype_line
from webapp.experiments.presenters.protocols import protocol_line
from webapp.experiments.presenters.progress import progress_text
from webapp.experiments.presenters.selection import selection_summary
from webapp.experiments.presenters.spaces import cell_shapes, space_url
from webapp.experiments.presenters.serializers import experiment_to_dict
from webapp.experiments.views import curation as views_curation
from webapp.experiments.views import studies as views_studies
from webapp.experiments.views.form_submit import create_or_add_errors

PAGE_SIZE = 20


@login_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.list_filters_from(request.GET)
    experiments = selectors.filtered_experiments(request.user, filters).select_related("result").prefetch_related("tags")
    page = Paginator(experiments, PAGE_SIZE).get_page(request.GET.get("page"))
    _attach_study_progress(page.object_list)
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = request.GET.copy()
    sort_params.pop("sort", None)
    sort_params.pop("page", None)
    return render(
        request,
        "experiments/list.html",
        {
            "page": page,
            "filters": filters,
            "facets": selectors.facet_values(request.user),
            "statuses": Status.choices,
            "query": params.urlencode(),
            "sort_query": sort_params.urlencode(),
            "tag_names": selectors.tag_names(request.user),
            "archived_choices": selectors.ARCHIVED_CHOICES,
            "kinds": Kind.choices,
        },
    )


def _attach_study_progress(experiments: Any) -> None:
    """Each study on the page gets ``study_progress`` (trials done by state, best value) and ``study_trials``: read
    in one query on Optuna's tables for the whole page."""
    from webapp.experiments.selectors.studies import studies_progress

    rows = list(experiments)
    progress = studies_progress(rows)
    for e in rows:
        if e.is_study:
            e.study_progress = progress.get(e.pk, {"done": 0, "best_value": None})
            e.study_trials = int((e.config or {}).get("trials") or 0)
            e.study_percent = round(100 * min(1, e.study_progress["done"] / e.study_trials)) if e.study_trials else 0


@login_required
@require_http_methods(["GET", "POST"])
def experiment_new(request: HttpRequest) -> HttpResponse:
    source = _run_again_source(request)
    start = {"name": source.name, "config": source.config} if source is not None else None
    form = ExperimentForm(request.POST or None, start_from=start)
    if request.method == "POST" and form.is_valid():
        exp = create_or_add_errors(
            form, lambda: services.create_experiment(request.user, form.cleaned_data["name"], form.config()))
        if exp is not None:
            messages.success(request, f"Experiment #{exp.pk} “{exp.name}” is queued.")
            return redirect("experiments:detail", pk=exp.pk)
    # an invalid form is shown again with its messages (200, as browsers expect for a page to fix)
    return render(request, "experiments/new.html", {"form": form, "source": source})


def _run_again_source(request: HttpRequest) -> Experiment | None:
    """The experiment named by ``?from=ID`` whose settings pre-fill the form (None when there is none); an id
    that is not one of the user's experiments is a 404, as on its own page."""
    raw = request.GET.get("from")
    if raw is None:
        return None
    if not raw.isdigit():
        raise Http404("no such experiment")
    source = selectors.get_experiment(request.user, int(raw))
    if source.is_retrain:
        raise Http404("a retrain has no search settings to start from; use the retrain form of its search")
    return source


#: at most this many pages of a run's history are preloaded; a longer history reads its later pages as they are asked for
PRELOADED_PAGES = 8


def history_preloads(events_url: str, last_seq: int) -> list[str]:
    """The events pages the live page's script will ask for first (``?after=0``, then a page later each time: the
    sequence numbers are 1..N without a gap), for ``<link rel=preload>`` in its head: the browser reads the history
    while it runs Plotly's bundle instead of after it."""
    page = settings.NASBOARD_EVENTS_PAGE
    return [f"{events_url}?after={after}" for after in range(0, max(last_seq, 1), page)[:PRELOADED_PAGES]]


@login_required
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exp = selectors.get_experiment(request.user, pk)
    if exp.is_study:
        return views_studies.study_detail(request, exp)
    result = Result.objects.filter(experiment=exp).first()
    curvature = selectors.curvature_summary(exp)
    raw = result.raw if result is not None and isinstance(result.raw, dict) else {}
    collapse = raw.get("collapse") if isinstance(raw.get("collapse"), dict) else {}
    result_collapse = selectors.collapse_text(collapse.get("genotype"))
    if result_collapse and raw.get("returned_epoch") is not None and selectors.collapse_text(collapse.get("last_genotype")):
        result_collapse += f" (last epoch's cell: {selectors.collapse_text(collapse.get('last_genotype'))})"
    selection = selection_summary(exp, raw)
    page_config = {
        "id": exp.pk,
        "eventsUrl": reverse("api:events", args=[exp.pk]),
        # pushed updates where the server can stream them (ASGI), else the page polls eventsUrl
        "streamUrl": reverse("api:stream", args=[exp.pk]) if can_stream(request) else None,
        "detailUrl": reverse("api:detail", args=[exp.pk]),
        "pollMs": settings.NASBOARD_POLL_MS,
        "experiment": experiment_to_dict(exp, with_result=False),
        "selection": {key: selection[key] for key in ("shown", "block", "title", "labels")},
        "benchmark": benchmark.page_config(exp),
        "regretLabels": regret.TRACE_LABELS,
        "costChart": cost.cost_chart(exp.config if isinstance(exp.config, dict) else {}),
        "cellShapes": cell_shapes(exp.space),
        # the words of the status badge and of the heatmap's distribution, as the server says them (one copy)
        "labels": {"status": dict(Status.choices), "kinds": selectors.DISTRIBUTION_KINDS},
        **views_curation.detail_page_config(exp),
    }
    return render(
        request,
        "experiments/detail.html",
        {
            "exp": exp,
            "progress_text": progress_text(exp),
            "result": result,
            "genotype_text": genotype_line(result.genotype, exp.space) if result else "",
            "page_config": page_config,
            "history_preloads": history_preloads(page_config["eventsUrl"], exp.last_seq),
            "config_json": json.dumps(exp.config, indent=2),
            "protocol_line": protocol_line(exp.config),
            **_regret_protocol(exp, raw),
            "curvature": curvature,
            "stop_reason": exp.stop_reason or (curvature["early_stop"] or {}).get("reason", ""),
            "arch_kind": selectors.distribution_kind(exp),
            "returned_epoch": raw.get("returned_epoch"),
            "result_collapse": result_collapse,
            "selection": selection,
            "result_benchmark": benchmark.result_figures(exp, result.genotype) if result else None,
            "space_url": space_url(exp.space),
            **views_curation.detail_context(exp),
        },
    )


def _regret_protocol(exp: Experiment, raw: dict[str, Any]) -> dict[str, Any]:
    """The regret section's protocol line, and the paper's rows when the run follows the paper's protocol."""
    config = exp.config or {}
    table = benchmark.table_for(exp.space, exp.dataset) if config.get("evaluator") == "table" else None
    protocol = regret.run_protocol(config, raw.get("blackbox") if isinstance(raw.get("blackbox"), dict) else None,
                                   table)
    return {"regret_protocol": protocol, "regret_paper": regret.paper_rows(exp.space, exp.dataset, [protocol])}


@login_required
@require_POST
def experiment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    exp = selectors.get_experiment(request.user, pk)
    try:
        exp = services.cancel_experiment(exp)
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        if exp.status == Status.CANCELLED:
            messages.success(request, f"Experiment #{exp.pk} was cancelled before it started.")
        else:
            messages.success(request, f"Experiment #{exp.pk} will stop at its next step.")
    return redirect("experiments:detail", pk=exp.pk)


@login_required
@require_POST
def experiment_resume(request: HttpRequest, pk: int) -> HttpResponse:
    exp = selectors.get_experiment(request.user, pk)
    try:
        services.resume_experiment(exp)
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    except services.ExperimentInvalid as exc:
        messages.error(request, "; ".join(exc.errors.values()))
    except services.BrokerUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Experiment #{exp.pk} is queued again; it continues from its last checkpoint.")
    return redirect("experiments:detail", pk=exp.pk)


@login_required
def experiment_artifact(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Download one of a run's artifact files (only the names the result lists)."""
    exp = selectors.get_experiment(request.user, pk)
    result = Result.objects.filter(experiment=exp).first()
    path: Any = (result.artifacts or {}).get(name) if result else None
    if not path:
        raise Http404("no such artifact")
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise Http404("the artifact file is gone from the artifact folder")
    return FileResponse(file.open("rb"), as_attachment=True, filename=f"experiment-{exp.pk}-{name}")
