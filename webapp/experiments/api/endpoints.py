"""The JSON API on django-ninja: its endpoints, the OpenAPI document generated from them, and the Swagger page.

The endpoints are thin: ninja validates the request against ``api_schemas``, the endpoint calls the services,
and ninja checks the serializers' dicts against the answer schemas (all but the stored events and the
streamed exports, served as they are), so the document at /api/openapi.json is what the code does. Who may
call is ``api_auth``'s business; every refusal is answered by ``api_errors``.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path, re_path, reverse
from ninja import Body, NinjaAPI, Path, Query
from ninja.responses import Status
from pydantic import AfterValidator, ValidationInfo

from nascore.spaces import SPACES
from nascore.spaces.document import dump
from webapp.experiments import selectors, services
from webapp.experiments.api import schemas
from webapp.experiments.api.auth import BearerToken, SessionCookie
from webapp.experiments.api.errors import (
    BODY_METHODS,
    ApiError,
    get_only,
    install_error_handlers,
    json_errors,
    not_found,
)
from webapp.experiments.models import Experiment
from webapp.experiments.presenters import benchmark, exports
from webapp.experiments.presenters import spaces as present_spaces
from webapp.experiments.selectors import spaces as saved_spaces
from webapp.experiments.presenters.live import events_answer
from webapp.experiments.presenters.serializers import experiment_to_dict
from webapp.experiments.services import curation
from webapp.experiments.services import retrain as retraining
from webapp.experiments.services import spaces as space_actions
from webapp.experiments.services import studies
from webapp.experiments.presenters.study_serializers import study_summary_dict, study_to_dict
from webapp.experiments.selectors import studies as study_selectors

#: the security schemes as clients have always known them
AUTH = {"bearer": BearerToken(), "session": SessionCookie()}
DESCRIPTION = ("Launch and watch neural architecture searches. Every error answer is JSON: {\"error\": message}, "
               "plus \"errors\": {field: message} for bad input (a body that is not JSON is a 400 for the field "
               "\"body\"); an address that matches nothing answers 404, a method an address does not take 405 with "
               "an Allow header, a write whose body is over the server's limit 413, and an unexpected failure 500 "
               "with a generic message. A valid Bearer token is the caller's identity whatever cookies come with it, "
               "and is never asked for a CSRF token; a wrong one is a 401 even beside a login session.")
#: the methods that take a body: each may answer 413 for one over DATA_UPLOAD_MAX_MEMORY_SIZE
WRITES = tuple(method.lower() for method in BODY_METHODS)
TOO_LARGE = {"description": "Content Too Large: the body is over the server's limit (DATA_UPLOAD_MAX_MEMORY_SIZE)",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _errors(*codes: int) -> dict[int, type[schemas.Error]]:
    return {code: schemas.Error for code in codes}


class Api(NinjaAPI):
    """NinjaAPI whose document names operations after their views and security schemes as ``AUTH`` does."""

    def get_openapi_operation_id(self, operation: Any) -> str:
        return str(operation.view_func.__name__)

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        names = {type(auth).__name__: name for name, auth in AUTH.items()}
        components = schema["components"]
        components["securitySchemes"] = {names[k]: v for k, v in components.get("securitySchemes", {}).items()}
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                operation["security"] = [{names[k]: v for k, v in s.items()} for s in operation.get("security", [])]
                if method in WRITES:
                    operation["responses"][413] = TOO_LARGE
        return schema


api = Api(title="NASBoard API", version="1", description=DESCRIPTION, auth=list(AUTH.values()),
          urls_namespace="api", openapi_url=None, docs_url=None)
install_error_handlers(api)
Id = Path(..., alias="id", description="the experiment's id")


def _visible(pk: int, info: ValidationInfo) -> Experiment:
    """The experiment of the path if the caller may see it, else 404: looked up while ninja reads the path, so an
    experiment that is not yours is a 404 whatever the body or query says, as it always was."""
    return selectors.get_experiment(info.context["request"].auth, pk)


def _retrainable(pk: int, info: ValidationInfo) -> Experiment:
    """A visible search with an architecture to retrain (409 otherwise), checked before its body."""
    search = _visible(pk, info)
    retraining.check_retrainable(search)
    return search


#: path ids that arrive as the experiment itself
VisibleExperiment = Annotated[int, AfterValidator(_visible)]
RetrainableSearch = Annotated[int, AfterValidator(_retrainable)]


def _created(response: HttpResponse, exp: Experiment) -> Status:
    """201 with the new experiment and its API address in ``Location``."""
    response["Location"] = reverse("api:detail", args=[exp.pk])
    return Status(201, experiment_to_dict(exp))


@api.get("/experiments", url_name="experiments", summary="List your experiments (staff: all)",
         response={200: schemas.ExperimentPage, **_errors(400, 401)})
def list_experiments(request: HttpRequest, query: Query[schemas.ListPage]) -> dict[str, Any]:
    filters = selectors.list_filters_from(query.params())
    experiments = selectors.filtered_experiments(request.auth, filters).prefetch_related("tags")  # type: ignore
    page = Paginator(experiments, query.per_page).get_page(query.page)
    return {"count": page.paginator.count, "page": page.number, "pages": page.paginator.num_pages,
            "results": [experiment_to_dict(e, with_result=False) for e in page.object_list]}


@api.post("/experiments", summary="Create and queue an experiment",
          response={201: schemas.Experiment, **_errors(400, 401, 403, 503)}, exclude_unset=True)
def create_experiment(request: HttpRequest, payload: schemas.NewExperiment, response: HttpResponse) -> Status:
    try:
        exp = services.create_experiment(request.auth, payload.name, payload.config)  # type: ignore[attr-defined]
    except services.ExperimentInvalid as exc:
        raise ApiError(400, "the experiment was not created", exc.errors) from None
    return _created(response, exp)


@api.get("/experiments/{int:id}", url_name="detail", summary="One experiment with its progress, config and result",
         response={200: schemas.Experiment, **_errors(401, 404)}, exclude_unset=True)
def get_experiment(request: HttpRequest, exp: VisibleExperiment = Id) -> dict[str, Any]:
    return experiment_to_dict(exp)


@api.patch("/experiments/{int:id}", summary="Curate: star, baseline, archive, notes, tags (the owner or staff)",
           response={200: schemas.Experiment, **_errors(400, 401, 403, 404)}, exclude_unset=True)
def curate_experiment(request: HttpRequest, exp: VisibleExperiment = Id,
                      payload: schemas.Curation = Body(...)) -> dict[str, Any]:
    try:
        exp = curation.apply_curation(exp, payload.model_dump(exclude_unset=True))
    except services.ExperimentInvalid as exc:
        raise ApiError(400, f"experiment #{exp.pk} was not changed", exc.errors) from None
    return experiment_to_dict(exp)


@api.post("/experiments/{int:id}/retrain", url_name="retrain", exclude_unset=True,
          summary="Queue the stand-alone training of a finished search's architecture as a new experiment "
                  "(kind retrain, parent the search, owned by the search's owner)",
          response={201: schemas.Experiment, **_errors(400, 401, 403, 404, 409, 503)})
def retrain_experiment(request: HttpRequest, response: HttpResponse, search: RetrainableSearch = Id,
                       payload: schemas.RetrainRequest | None = None) -> Status:
    body = payload or schemas.RetrainRequest()
    try:
        retrain = retraining.create_retrain(search, body.config, body.name)
    except services.ExperimentInvalid as exc:
        raise ApiError(400, "the retrain was not created", exc.errors) from None
    return _created(response, retrain)


@api.get("/experiments/{int:id}/events", url_name="events", summary="The events after a sequence number, in order",
         description="Poll again with after=last_seq while status is queued or running. Events are served as stored "
                     "(not re-checked on the way out, like the JSON Lines history): their schemas are what the engine "
                     "emits.", response={200: schemas.EventPage, **_errors(400, 401, 404)})
def list_events(request: HttpRequest, exp: VisibleExperiment = Id,
                after: int = Query(0, ge=0, description="the last sequence number seen"),
                limit: int = Query(None, ge=1, description="at most this many events (and never more than the "
                                                           "server's page, NASBOARD_EVENTS_PAGE)")) -> HttpResponse:
    limit = min(limit or settings.NASBOARD_EVENTS_PAGE, settings.NASBOARD_EVENTS_PAGE)
    events = selectors.events_after(exp, after, limit + 1)
    return JsonResponse(events_answer(exp, events[:limit], after, len(events) > limit))


@api.post("/experiments/{int:id}/cancel", url_name="cancel", exclude_unset=True,
          summary="Cancel: a queued run at once (200), a running one within a step (202)",
          response={(200, 202): schemas.Experiment, **_errors(401, 403, 404, 409)})
def cancel_experiment(request: HttpRequest, exp: VisibleExperiment = Id) -> Status:
    exp = services.cancel_experiment(exp)
    return Status(202 if exp.is_active else 200, experiment_to_dict(exp))


@api.post("/experiments/{int:id}/resume", url_name="resume", exclude_unset=True,
          summary="Queue a cancelled or failed run again; it continues from its last checkpoint",
          response={202: schemas.Experiment, **_errors(401, 403, 404, 409, 503)})
def resume_experiment(request: HttpRequest, exp: VisibleExperiment = Id) -> Status:
    try:
        exp = services.resume_experiment(exp)
    except services.ExperimentInvalid as exc:  # the run limit
        raise ApiError(409, "; ".join(exc.errors.values()), exc.errors) from None
    return Status(202, experiment_to_dict(exp))


HISTORY = {"description": "one Event object per line, in order",
           "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/Event"}}}}


@api.get("/experiments/{int:id}/events.jsonl", url_name="history",
         summary="The experiment's full event history, streamed as JSON Lines",
         response=_errors(401, 404), openapi_extra={"responses": {200: HISTORY}})
def event_history(request: HttpRequest, exp: VisibleExperiment = Id) -> HttpResponse:
    return exports.event_history_response(exp)


CSV = {"text/csv": {"schema": {"type": "string", "description": "a header line (the columns), then one row per "
                                                                "experiment"}}}


@api.get("/experiments/export.{format}", url_name="export",
         summary="Every experiment the list filters select (not one page), as CSV or JSON",
         response={200: schemas.Export, **_errors(400, 401)}, openapi_extra={"responses": {200: {"content": CSV}}})
def export_experiments(request: HttpRequest, filters: Query[schemas.ListFilters],
                       fmt: Literal["csv", "json"] = Path(..., alias="format")) -> HttpResponse:
    return exports.list_export_response(request.auth, filters.params(), fmt)


@api.get("/tags", url_name="tags", summary="The tag names in use on the experiments you see",
         response={200: schemas.Tags, **_errors(401)})
def list_tags(request: HttpRequest) -> dict[str, Any]:
    return {"tags": selectors.tag_names(request.auth)}  # type: ignore[attr-defined]


@api.get("/benchmark/{space}", url_name="benchmark",
         summary="Tabular-benchmark figures (NAS-Bench-201) of up to 200 cells; validation and test apart",
         response={200: schemas.BenchmarkFigures, **_errors(400, 401, 404)}, exclude_unset=True)
def benchmark_figures(request: HttpRequest, space: str, query: Query[schemas.BenchmarkQuery]) -> dict[str, Any]:
    return benchmark.lookup(space, query.dataset, query.arch)


# ---- HPO studies --------------------------------------------------------------------------------------------------
StudyId = Path(..., alias="id", description="the study's id (an experiment of kind study)")


def _visible_study(pk: int, info: ValidationInfo) -> Experiment:
    """The study of the path if the caller may see it, else 404 (another user's study, or no study)."""
    return study_selectors.get_study(info.context["request"].auth, pk)


VisibleStudy = Annotated[int, AfterValidator(_visible_study)]


def _study_answer(exp: Experiment) -> dict[str, Any]:
    return study_to_dict(exp, study_selectors.study_result(exp))


@api.get("/studies", url_name="studies", summary="List your HPO studies (staff: all), newest first",
         response={200: schemas.StudyPage, **_errors(400, 401)})
def list_studies(request: HttpRequest, query: Query[schemas.StudyListQuery]) -> dict[str, Any]:
    found = study_selectors.visible_studies(request.auth).prefetch_related("tags")
    if query.status:
        found = found.filter(status=query.status)
    page = Paginator(found, query.per_page).get_page(query.page)
    return {"count": page.paginator.count, "page": page.number, "pages": page.paginator.num_pages,
            "results": [study_summary_dict(e) for e in page.object_list]}


@api.post("/studies", url_name="study_create", exclude_unset=True,
          summary="Create an HPO study and send its trials to the workers (400 with every problem, and nothing "
                  "stored, for bad settings)", response={201: schemas.Study, **_errors(400, 401, 403, 503)})
def create_study(request: HttpRequest, payload: schemas.NewStudy, response: HttpResponse) -> Status:
    raw, name, parent_id = payload.parts()
    errors: dict[str, str] = {}
    if not isinstance(name, str):
        errors["name"] = "name must be a string"
    parent = None
    if parent_id is not None:
        if not isinstance(parent_id, int) or isinstance(parent_id, bool):
            errors["parent"] = "parent must be an experiment's id (an integer)"
        else:
            parent = selectors.visible_experiments(request.auth).filter(pk=parent_id).first()
            if parent is None:
                errors["parent"] = f"no experiment #{parent_id} of yours"
    try:
        exp = studies.create_study(request.auth, raw, parent=parent, name=name if isinstance(name, str) else "")
    except services.ExperimentInvalid as exc:
        errors = {**exc.errors, **errors}
    if errors:
        raise ApiError(400, "the study was not created", errors)
    response["Location"] = reverse("api:study", args=[exp.pk])
    return Status(201, _study_answer(exp))


@api.get("/studies/{int:id}", url_name="study", exclude_unset=True,
         summary="One study: settings, status, progress, best value, parameters and trial, trial states, and once "
                 "ended its baselines (poll it for a live page)", response={200: schemas.Study, **_errors(401, 404)})
def get_study(request: HttpRequest, exp: VisibleStudy = StudyId) -> dict[str, Any]:
    return _study_answer(exp)


@api.get("/studies/{int:id}/trials", url_name="study_trials",
         summary="Every trial of a study: state, value, parameters, epochs, validation accuracy by epoch, times",
         response={200: schemas.StudyTrials, **_errors(401, 404)})
def list_study_trials(request: HttpRequest, exp: VisibleStudy = StudyId) -> dict[str, Any]:
    return {"id": exp.pk, "status": exp.status, "trials": study_selectors.study_trials(exp)}


@api.post("/studies/{int:id}/cancel", url_name="study_cancel", exclude_unset=True,
          summary="Cancel a study: a queued one at once (200), a running one within a training step (202; its "
                  "running trials end pruned)", response={(200, 202): schemas.Study, **_errors(401, 403, 404, 409)})
def cancel_study(request: HttpRequest, exp: VisibleStudy = StudyId) -> Status:
    exp = studies.cancel_study(exp)
    return Status(202 if exp.is_active else 200, _study_answer(exp))


@api.post("/studies/{int:id}/resume", url_name="study_resume", exclude_unset=True,
          summary="Send a cancelled or failed study again: its ended trials are kept and it runs until it has its "
                  "number of trials", response={202: schemas.Study, **_errors(401, 403, 404, 409, 503)})
def resume_study(request: HttpRequest, exp: VisibleStudy = StudyId) -> Status:
    try:
        exp = studies.resume_study(exp)
    except services.ExperimentInvalid as exc:  # the run limit
        raise ApiError(409, "; ".join(exc.errors.values()), exc.errors) from None
    return Status(202, _study_answer(exp))


# ---- search spaces ------------------------------------------------------------------------------------------------
def _space_answer(request: HttpRequest, row: Any) -> dict[str, Any]:
    return present_spaces.saved_dict(row, row.summary, saved_spaces.versions(row.name),
                                     saved_spaces.usage_counts(row.name, request.auth))


@api.get("/spaces", url_name="spaces", summary="The search spaces: the built-ins and the saved ones (their latest "
                                               "versions)", response={200: schemas.SpaceList, **_errors(401)})
def list_spaces(request: HttpRequest) -> dict[str, Any]:
    usage = saved_spaces.usage_counts_all(request.auth)
    per_name: dict[str, int] = {}
    for ref, n in usage.items():
        per_name[ref.split("@")[0]] = per_name.get(ref.split("@")[0], 0) + n
    builtin_use = dict(selectors.visible_experiments(request.auth).filter(space__in=list(SPACES))
                       .order_by().values_list("space").annotate(n=Count("id")))
    counts = saved_spaces.version_counts()
    return {"builtins": [present_spaces.builtin_item(s, builtin_use.get(name, 0)) for name, s in SPACES.items()],
            "saved": [present_spaces.saved_item(r, counts.get(r.name, 1), per_name.get(r.name, 0))
                      for r in saved_spaces.latest_versions()]}


@api.post("/spaces", url_name="space_create", exclude_unset=True,
          summary="Save a space document: version 1 of a new name, or the next version of a space of yours "
                  "(answered 400 with every problem by its place in the document, and nothing saved, when invalid)",
          response={201: schemas.Space, **_errors(400, 401, 403)})
def create_space(request: HttpRequest, payload: schemas.SpaceDocumentBody, response: HttpResponse) -> Status:
    return _save_space(request, response, payload.document, None)


@api.post("/space-check", url_name="space_check", exclude_unset=True,
          summary="Check a space document without saving it: every problem by its place, or its summary at a size",
          response={200: schemas.SpaceCheck, **_errors(400, 401, 403)})
def check_space(request: HttpRequest, payload: schemas.SpaceCheckBody) -> dict[str, Any]:
    checked = space_actions.check(payload.document, payload.channels, payload.layers, user=request.auth)
    return {"valid": checked.valid, "problems": checked.problems, "summary": checked.summary}


@api.get("/spaces/{space}", url_name="space", exclude_unset=True,
         summary="One space: a built-in by name, a saved space's latest version by name or one version by "
                 "name@version; its document, summary at the default size and versions",
         response={200: schemas.Space, **_errors(401, 404)})
def get_space(request: HttpRequest, space: str) -> dict[str, Any]:
    if space in SPACES:
        return present_spaces.builtin_dict(SPACES[space], dump(SPACES[space].to_document()),
                                           saved_spaces.builtin_summary(space))
    ref = saved_spaces.parse_reference(space)
    row = saved_spaces.find_version(*ref) if ref is not None else None
    if row is None:
        raise ApiError(404, f"no space {space!r}")
    return _space_answer(request, row)


@api.post("/spaces/{space}/versions", url_name="space_versions", exclude_unset=True,
          summary="Save the next version of a space of yours (the document keeps its name; 404 for a name that is "
                  "not one of your saved spaces)", response={201: schemas.Space, **_errors(400, 401, 403, 404)})
def create_space_version(request: HttpRequest, space: str, payload: schemas.SpaceDocumentBody,
                         response: HttpResponse) -> Status:
    ref = saved_spaces.parse_reference(space)
    owner = saved_spaces.owner_of(ref[0]) if ref is not None and ref[1] is None else None
    if owner is None or owner.pk != request.auth.pk:  # type: ignore[attr-defined]
        raise ApiError(404, f"no saved space of yours named {space!r}")
    return _save_space(request, response, payload.document, space)


def _save_space(request: HttpRequest, response: HttpResponse, document: str, of: str | None) -> Status:
    try:
        row = space_actions.save(request.auth, document, of=of)
    except space_actions.SpaceInvalid as exc:
        raise ApiError(400, "the space was not saved", exc.errors) from None
    response["Location"] = reverse("api:space", args=[row.reference])
    return Status(201, _space_answer(request, row))


@get_only
def openapi(request: HttpRequest) -> HttpResponse:
    """The OpenAPI 3.1 document, generated from the endpoints (public: it holds no data)."""
    document = {**api.get_openapi_schema(), "servers": [{"url": request.build_absolute_uri("/").rstrip("/")}]}
    return JsonResponse(document, json_dumps_params={"indent": 2})


@get_only
@login_required
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI on the document, from the swagger-ui copy django-ninja ships (served from /static/, no CDN)."""
    # no deep links: Swagger UI draws them as links inside each operation's summary button (nested controls a screen
    # reader cannot reach; axe's nested-interactive, tests/webapp/test_browser_accessibility.py)
    swagger = {"url": reverse("api:openapi"), "layout": "BaseLayout", "deepLinking": False}
    return render(request, "ninja/swagger.html", {"swagger_settings": json.dumps(swagger), "api": api, "add_csrf": True})


def urlpatterns() -> list[URLPattern | URLResolver]:
    """The API's URLs (namespace ``api``): the document, the docs page, ninja's endpoints, a JSON 404 for the rest."""
    endpoints = [URLPattern(p.pattern, json_errors(p.callback), p.default_args, p.name)
                 for p in api.urls[0] if isinstance(p, URLPattern)]
    return [path("openapi.json", openapi, name="openapi"), path("docs", docs, name="docs"), *endpoints,
            re_path(r"^.*$", not_found)]
