"""A hyperparameter study's pages: its live page (reached through the experiment page's URL, so every list link
works), the page data it polls, the new-study form and the study's actions.  Thin: the selector reads Optuna's
storage, the presenter words and draws, the study service (``services.studies``) acts.
"""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from nascore.config import ConfigError
from webapp.experiments import selectors, services
from webapp.experiments.forms.study import StudyForm
from webapp.experiments.models import Experiment, Kind
from webapp.experiments.presenters import study as present
from webapp.experiments.selectors import studies as study_selectors

#: what the study service refuses with: the message is shown, the page stays
REFUSALS = (services.ActionRefused, services.BrokerUnavailable, services.ExperimentInvalid, ConfigError, ValueError)

#: how often the page asks for its data while the study runs (a trial takes seconds to minutes)
POLL_MS = 3000


def _study(request: HttpRequest, pk: int) -> Experiment:
    """The user's study (404 for another's, or for an experiment that is not a study)."""
    exp = selectors.get_experiment(request.user, pk)
    if exp.kind != Kind.STUDY:
        raise Http404("not a hyperparameter study")
    return exp


def _page_data(exp: Experiment) -> dict[str, Any]:
    study, result = study_selectors.study_and_result(exp)
    stored = study_selectors.stored_result(exp)
    return present.page_data(exp, study, result, stored.get("baselines"), stored)


def study_detail(request: HttpRequest, exp: Experiment) -> HttpResponse:
    """The study's page (``experiment_detail`` hands a study here)."""
    data = _page_data(exp)
    page_config = {"id": exp.pk, "dataUrl": reverse("experiments:study_data", args=[exp.pk]),
                   "pollMs": max(POLL_MS, int(getattr(settings, "NASBOARD_POLL_MS", 1000))), "data": data}
    from webapp.experiments.models import Kind, Tag
    from webapp.experiments.presenters.markdown import render_markdown

    return render(request, "experiments/study.html", {
        "exp": exp, "data": data,
        # curated like any experiment (star, baseline, archive, tags, notes), and its retrains listed
        "tags": sorted((t.name for t in exp.tags.all()), key=str.lower),
        "known_tags": list(Tag.objects.filter(owner_id=exp.owner_id).order_by("name").values_list("name", flat=True)),
        "notes_html": render_markdown(exp.notes),
        "retrains": list(exp.retrains.filter(kind=Kind.RETRAIN).select_related("result").order_by("created_at", "id")), "page_config": page_config, "settings_line": present.settings_line(exp),
        "figures": [{"key": key, "title": title, "figure": data["figures"][key], "empty": data["empty"][key]}
                    for key, title in present.study_figures.FIGURES],
        "config_json": json.dumps(exp.config, indent=2),
    })


@login_required
@require_GET
def study_data(request: HttpRequest, pk: int) -> JsonResponse:
    """What the page redraws on each poll: status, progress, best trial, table rows and figures."""
    return JsonResponse(_page_data(_study(request, pk)))


@login_required
@require_http_methods(["GET", "POST"])
def study_new(request: HttpRequest) -> HttpResponse:
    """GET: the form, prefilled from the query string; POST: create the study, or show every error by its field."""
    parent = _parent(request, request.POST.get("parent") or request.GET.get("parent"))
    prefill = {**request.GET.dict(), **({"parent": parent.pk} if parent else {})}
    if parent is not None and "name" not in prefill:
        prefill["name"] = f"HPO of #{parent.pk} {parent.name}"[:200]
    form = StudyForm(request.POST or None, prefill=prefill, initial={"parent": parent.pk if parent else None,
                                                                     "name": prefill.get("name", "")})
    if request.method == "POST" and form.is_valid():
        from webapp.experiments.services import studies as study_services

        try:
            exp = study_services.create_study(request.user, form.settings(), parent=parent,
                                              name=form.cleaned_data.get("name") or "")
        except (ConfigError, services.ExperimentInvalid) as exc:  # the study service names every problem
            form.add_errors(exc.errors)
        else:
            messages.success(request, f"Study #{exp.pk} “{exp.name}” is queued.")
            return redirect("experiments:detail", pk=exp.pk)
    form.mark_errors()
    return render(request, "experiments/study_new.html", {"form": form, "parent": parent})


def _parent(request: HttpRequest, raw: Any) -> Experiment | None:
    """The search a study tunes (``parent``), one of the user's (404 otherwise, as its page)."""
    if raw in (None, ""):
        return None
    if not str(raw).isdigit():
        raise Http404("no such experiment")
    return selectors.get_experiment(request.user, int(raw))


def _act(request: HttpRequest, pk: int, action: str, done: str) -> HttpResponse:
    """Run the study service's ``action`` (cancel_study, resume_study) and say what happened, or why not."""
    exp = _study(request, pk)
    from webapp.experiments.services import studies as study_services

    try:
        getattr(study_services, action)(exp)
    except REFUSALS as exc:  # the service says why (already ended, still running, broker down, ...)
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(pk=exp.pk))
    return redirect("experiments:detail", pk=exp.pk)


@login_required
@require_POST
def study_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "cancel_study", "Study #{pk} stops: running trials end at their next epoch.")


@login_required
@require_POST
def study_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "resume_study",
                "Study #{pk} is queued again; it continues with the trials still to run.")


@login_required
@require_POST
def study_retrain(request: HttpRequest, pk: int) -> HttpResponse:
    """Train the best trial's architecture with its hyperparameters from scratch (retrain and joint problems)."""
    exp = _study(request, pk)
    from webapp.experiments.services import studies as study_services

    try:
        retrain = study_services.retrain_best(exp, request.user)
    except REFUSALS as exc:  # no complete trial, a problem without an architecture, ...
        messages.error(request, str(exc))
        return redirect("experiments:detail", pk=exp.pk)
    messages.success(request, f"Retrain #{retrain.pk} of the best trial is queued.")
    return redirect("experiments:detail", pk=retrain.pk)


@login_required
@require_GET
def study_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The best model's settings as a JSON file (best parameters, dataset, seed)."""
    exp = _study(request, pk)
    _, result = study_selectors.study_and_result(exp)
    if result.get("best_trial") is None:
        raise Http404("no complete trial yet")
    response = JsonResponse(present.export_document(exp, result), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="study-{exp.pk}-best.json"'
    return response
