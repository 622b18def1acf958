"""Pages for curating, retraining and exporting. Thin: selectors find (owner or staff, else 404), the curation,
retrain and exports modules act. A curation POST answers JSON to scripts (``Accept: application/json``) and
redirects browsers back with a message, so the pages work with or without JavaScript."""
from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.experiments import selectors, services
from webapp.experiments.forms.curation import RetrainForm
from webapp.experiments.models import Experiment
from webapp.experiments.presenters import exports
from webapp.experiments.presenters.genotypes import genotype_line
from webapp.experiments.services import curation
from webapp.experiments.services import retrain as retraining
from webapp.experiments.views.form_submit import create_or_add_errors

#: the curation buttons of the pages: action -> the change it makes
FLAG_ACTIONS: dict[str, dict[str, bool]] = {
    "star": {"starred": True}, "unstar": {"starred": False},
    "baseline": {"is_baseline": True}, "unbaseline": {"is_baseline": False},
    "archive": {"archived": True}, "unarchive": {"archived": False},
}
DONE = {"star": "starred", "unstar": "unstarred", "baseline": "marked as a baseline", "unbaseline": "no longer a baseline",
        "archive": "archived", "unarchive": "restored from the archive", "notes": "notes saved",
        "add_tag": "tag added", "remove_tag": "tag removed"}


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _changes(request: HttpRequest) -> dict[str, Any]:
    """The curation change a page form asks for, or ExperimentInvalid."""
    action = request.POST.get("action", "")
    if action in FLAG_ACTIONS:
        return dict(FLAG_ACTIONS[action])
    if action == "notes":
        return {"notes": request.POST.get("notes", "")}
    if action in ("add_tag", "remove_tag"):
        names = [n for n in request.POST.get("tag", "").split(",") if n.strip()] or [request.POST.get("tag", "")]
        return {"add_tags" if action == "add_tag" else "remove_tags": names}
    raise services.ExperimentInvalid({"action": f"unknown action {action!r}; one of: {', '.join(DONE)}"})


def _back(request: HttpRequest, exp: Experiment) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("experiments:detail", args=[exp.pk])
    return redirect(target)


@login_required
@require_POST
def experiment_curate(request: HttpRequest, pk: int) -> HttpResponse:
    """Star, baseline, archive, notes and tags of one experiment (its owner or staff)."""
    exp = selectors.get_experiment(request.user, pk)
    try:
        exp = curation.apply_curation(exp, _changes(request))
    except services.ExperimentInvalid as exc:
        if _wants_json(request):
            return JsonResponse({"error": f"experiment #{exp.pk} was not changed", "errors": exc.errors}, status=400)
        messages.error(request, f"Experiment #{exp.pk} was not changed: " + "; ".join(exc.errors.values()))
        return _back(request, exp)
    if _wants_json(request):
        return JsonResponse({"id": exp.pk, **curation.curation_dict(exp)})
    messages.success(request, f"Experiment #{exp.pk}: {DONE[request.POST['action']]}.")
    return _back(request, exp)


@login_required
@require_http_methods(["GET", "POST"])
def experiment_retrain(request: HttpRequest, pk: int) -> HttpResponse:
    """The retrain form of a finished search (GET), and queueing the retrain (POST)."""
    search = selectors.get_experiment(request.user, pk)
    refused = ""
    try:
        retraining.check_retrainable(search)
    except services.ActionRefused as exc:
        refused = str(exc)
    form = RetrainForm(search, request.POST or None)
    if request.method == "POST":
        if refused:
            messages.error(request, refused)
            return redirect("experiments:detail", pk=search.pk)
        if form.is_valid():
            retrain = create_or_add_errors(
                form, lambda: retraining.create_retrain(search, form.config(), form.cleaned_data.get("name")))
            if retrain is not None:
                messages.success(request, f"Retrain #{retrain.pk} of search #{search.pk} is queued.")
                return redirect("experiments:detail", pk=retrain.pk)
    return render(request, "experiments/retrain.html", {"search": search, "form": form, "refused": refused})


@login_required
@require_GET
def experiments_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The list page's experiments (same filters, every page) as CSV or JSON."""
    if fmt not in ("csv", "json"):
        raise Http404("exports are csv or json")
    return exports.list_export_response(request.user, request.GET, fmt)


@login_required
@require_GET
def experiment_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The experiment's full event history as JSON Lines, streamed."""
    return exports.event_history_response(selectors.get_experiment(request.user, pk))


def detail_context(exp: Experiment) -> dict[str, Any]:
    """What the experiment page shows of curation and lineage: tags, notes, retrains, the retrain form."""
    from webapp.experiments.models import Kind, Tag
    from webapp.experiments.presenters.markdown import render_markdown

    context: dict[str, Any] = {
        "tags": sorted((t.name for t in exp.tags.all()), key=str.lower),
        "known_tags": list(Tag.objects.filter(owner_id=exp.owner_id).order_by("name").values_list("name", flat=True)),
        "notes_html": render_markdown(exp.notes),
        "retrains": [],
        "retrain_form": None,
        "retrain_genotype": "",
    }
    if exp.kind == Kind.RETRAIN:
        genotype = (exp.config or {}).get(retraining.GENOTYPE_KEY)
        context["retrain_genotype"] = genotype_line(genotype, exp.space)
    else:
        context["retrains"] = list(exp.retrains.filter(kind=Kind.RETRAIN).select_related("result")
                                   .order_by("created_at", "id"))
        context.update(study_lineage(exp))
        try:
            retraining.check_retrainable(exp)
        except services.ActionRefused:
            pass
        else:
            context["retrain_form"] = RetrainForm(exp)
    return context


def study_lineage(search: Experiment) -> dict[str, Any]:
    """A search's studies (each with its trials done and best value) and, once it found an architecture, the link
    to tune its hyperparameters (the new-study form, prefilled: NAS then HPO)."""
    from urllib.parse import urlencode

    from webapp.experiments.models import COMPLETED_STATUSES, Kind, Result
    from webapp.experiments.selectors.studies import studies_progress

    studies = list(search.retrains.filter(kind=Kind.STUDY).order_by("created_at", "id"))
    progress = studies_progress(studies) if studies else {}
    rows = [{"exp": s, "progress": progress.get(s.pk, {}), "trials": (s.config or {}).get("trials")} for s in studies]
    result = Result.objects.filter(experiment=search).first() if search.status in COMPLETED_STATUSES else None
    tune_url = ""
    if result is not None and result.genotype:
        genotype = result.genotype if isinstance(result.genotype, str) else json.dumps(result.genotype)
        query = {"problem": "retrain", "space": search.space, "dataset": search.dataset, "genotype": genotype,
                 "parent": search.pk}
        tune_url = f"{reverse('experiments:study_new')}?{urlencode(query)}"
    # HPO of the search's own settings: its config is the base, each trial a search (epochs the fidelity)
    settings_query = {"problem": "config", "parent": search.pk, "param": SEARCH_PARAMS}
    tune_settings_url = "" if search.kind != Kind.SEARCH else (
        f"{reverse('experiments:study_new')}?{urlencode(settings_query)}")
    return {"studies": rows, "tune_url": tune_url, "tune_settings_url": tune_settings_url}


#: the ranges a search's settings study starts from: DARTS's two learning rates around the paper's 0.025 and 3e-4
SEARCH_PARAMS = "w_lr=0.005:0.1:log\nalpha_lr=0.0001:0.001:log"


def detail_page_config(exp: Experiment) -> dict[str, Any]:
    """Extra settings of the live page's script: the kind, and for a retrain the genotype whose cells it draws."""
    config: dict[str, Any] = {"kind": exp.kind, "curateUrl": reverse("experiments:curate", args=[exp.pk])}
    if exp.kind == "retrain":
        config["genotype"] = (exp.config or {}).get(retraining.GENOTYPE_KEY)
    return config
