"""The JSON API: session or ``Authorization: Bearer TOKEN`` auth, JSON errors, no HTML ever.

Session requests that change state need the CSRF token (as forms do); token requests do not,
since a browser never sends the token on its own.
"""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from webapp.experiments import curation, exports, selectors, services
from webapp.experiments import retrain as retraining
from webapp.experiments.models import ApiToken, Experiment, hash_token
from webapp.experiments.openapi import schema
from webapp.experiments.serializers import experiment_to_dict

View = Callable[..., HttpResponse]


def error(status: int, message: str, errors: dict[str, str] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return JsonResponse(body, status=status)


def _token_user(request: HttpRequest) -> tuple[Any, str | None]:
    """(user, problem) from the Authorization header; (None, None) when there is none."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None, None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None, "the Authorization header must be 'Bearer <token>'"
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key.strip())).first()
    if token is None or not token.user.is_active:
        return None, "the API token is not valid"
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user, None


def _csrf_problem(request: HttpRequest) -> str | None:
    check = CsrfViewMiddleware(lambda r: HttpResponse())
    check.process_request(request)
    response = check.process_view(request, lambda r: HttpResponse(), (), {})
    return None if response is None else "CSRF check failed: send the X-CSRFToken header with session auth, or use a token"


def api_view(methods: tuple[str, ...]) -> Callable[[View], View]:
    """Authenticate, enforce methods, and turn Http404 and bad input into JSON answers."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(405, f"method {request.method} is not allowed here; use {', '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            user, problem = _token_user(request)
            if problem:
                return error(401, problem)
            if user is None:
                if not request.user.is_authenticated:
                    response = error(401, "authentication required: log in, or send 'Authorization: Bearer <token>'")
                    response["WWW-Authenticate"] = 'Bearer realm="nasboard"'
                    return response
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    csrf = _csrf_problem(request)
                    if csrf:
                        return error(403, csrf)
                user = request.user
            request.api_user = user  # type: ignore[attr-defined]
            try:
                return view(request, *args, **kwargs)
            except Http404 as exc:
                return error(404, str(exc) or "not found")

        return wrapper

    return decorate


def _json_body(request: HttpRequest, what: str = "send a JSON object: {\"name\": ..., \"config\": {...}}") -> Any:
    if not request.body:
        raise services.ExperimentInvalid({"body": what})
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise services.ExperimentInvalid({"body": f"the body is not valid JSON: {exc}"}) from None


def _name_and_config(body: Any) -> dict[str, Any]:
    """``body`` checked to be what creating an experiment takes (a new search or a retrain): an object with
    at most ``name`` and ``config``, so a misspelt field is refused rather than silently ignored."""
    if not isinstance(body, dict):
        raise services.ExperimentInvalid({"body": f"must be a JSON object, not {type(body).__name__}"})
    unknown = sorted(set(body) - {"name", "config"})
    if unknown:
        raise services.ExperimentInvalid({k: f"unknown field {k!r}; send name and config" for k in unknown})
    return body


def _created(exp: Experiment) -> JsonResponse:
    """201 with the new experiment and its API address in ``Location``."""
    response = JsonResponse(experiment_to_dict(exp), status=201)
    response["Location"] = f"/api/experiments/{exp.pk}"
    return response


@api_view(("GET", "POST"))
def experiments(request: HttpRequest) -> HttpResponse:
    user = request.api_user  # type: ignore[attr-defined]
    if request.method == "POST":
        try:
            body = _name_and_config(_json_body(request))
            exp = services.create_experiment(user, body.get("name"), body.get("config", {}))
        except services.ExperimentInvalid as exc:
            return error(400, "the experiment was not created", exc.errors)
        except services.BrokerUnavailable as exc:
            return error(503, str(exc))
        return _created(exp)
    filters = selectors.list_filters_from(request.GET)
    try:
        per_page = max(1, min(100, int(request.GET.get("per_page", 20))))
    except ValueError:
        return error(400, "per_page must be an integer")
    page = Paginator(selectors.filtered_experiments(user, filters).prefetch_related("tags"), per_page).get_page(request.GET.get("page"))
    return JsonResponse(
        {
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "results": [experiment_to_dict(e, with_result=False) for e in page.object_list],
        }
    )


@api_view(("GET", "PATCH"))
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the experiment. PATCH: curate it (owner or staff): starred, is_baseline, archived, notes, tags."""
    exp = selectors.get_experiment(request.api_user, pk)  # type: ignore[attr-defined]
    if request.method == "PATCH":
        try:
            exp = curation.apply_curation(exp, _json_body(request, "send a JSON object of changes, e.g. {\"starred\": true}"))
        except services.ExperimentInvalid as exc:
            return error(400, f"experiment #{exp.pk} was not changed", exc.errors)
    return JsonResponse(experiment_to_dict(exp))


@api_view(("POST",))
def experiment_retrain(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the stand-alone training of a finished search's architecture as a new experiment."""
    search = selectors.get_experiment(request.api_user, pk)  # type: ignore[attr-defined]
    try:
        retraining.check_retrainable(search)
        body = _name_and_config(
            _json_body(request, "send a JSON object: {\"name\": ..., \"config\": {\"epochs\": ...}} (both optional)")
            if request.body else {})
        retrain = retraining.create_retrain(search, body.get("config", {}), body.get("name"))
    except services.ActionRefused as exc:
        return error(409, str(exc))
    except services.ExperimentInvalid as exc:
        return error(400, "the retrain was not created", exc.errors)
    except services.BrokerUnavailable as exc:
        return error(503, str(exc))
    return _created(retrain)


@api_view(("GET",))
def experiment_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The experiment's whole event history as JSON Lines, streamed."""
    return exports.event_history_response(selectors.get_experiment(request.api_user, pk))  # type: ignore[attr-defined]


@api_view(("GET",))
def experiments_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Every experiment the list filters select (no pages), as CSV or JSON."""
    return exports.list_export_response(request.api_user, request.GET, fmt)  # type: ignore[attr-defined]


@api_view(("GET",))
def tags(request: HttpRequest) -> HttpResponse:
    """The tag names in use on the experiments you see."""
    return JsonResponse({"tags": selectors.tag_names(request.api_user)})  # type: ignore[attr-defined]


@api_view(("GET",))
def experiment_events(request: HttpRequest, pk: int) -> HttpResponse:
    """Events after ``after`` in order, plus the run's status so a poller knows when to stop."""
    exp = selectors.get_experiment(request.api_user, pk)  # type: ignore[attr-defined]
    raw_after = request.GET.get("after", "0")
    try:
        after = int(raw_after)
        if after < 0:
            raise ValueError
    except ValueError:
        return error(400, f"after must be a non-negative integer sequence number, not {raw_after!r}")
    limit = settings.NASBOARD_EVENTS_PAGE
    try:
        if "limit" in request.GET:
            limit = max(1, min(limit, int(request.GET["limit"])))
    except ValueError:
        return error(400, "limit must be an integer")
    events = selectors.events_after(exp, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return JsonResponse(
        {
            "status": exp.status,
            "error": exp.error or None,
            "stop_reason": exp.stop_reason or None,
            "cancel_requested": exp.cancel_requested,
            "progress": exp.progress_dict(),
            "events": events,
            "last_seq": events[-1]["seq"] if events else after,
            "more": more,
            "history_rev": exp.history_rev,
        }
    )


@api_view(("POST",))
def experiment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    exp = selectors.get_experiment(request.api_user, pk)  # type: ignore[attr-defined]
    try:
        exp = services.cancel_experiment(exp)
    except services.ActionRefused as exc:
        return error(409, str(exc))
    return JsonResponse(experiment_to_dict(exp), status=202 if exp.is_active else 200)


@api_view(("POST",))
def experiment_resume(request: HttpRequest, pk: int) -> HttpResponse:
    exp = selectors.get_experiment(request.api_user, pk)  # type: ignore[attr-defined]
    try:
        exp = services.resume_experiment(exp)
    except services.ActionRefused as exc:
        return error(409, str(exc))
    except services.ExperimentInvalid as exc:
        return error(409, "; ".join(exc.errors.values()), exc.errors)
    except services.BrokerUnavailable as exc:
        return error(503, str(exc))
    return JsonResponse(experiment_to_dict(exp), status=202)


def openapi(request: HttpRequest) -> HttpResponse:
    """The OpenAPI 3.1 description of this API (public: it holds no data)."""
    return JsonResponse(schema(request.build_absolute_uri("/").rstrip("/")), json_dumps_params={"indent": 2})


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return error(404, f"no API endpoint at {request.path}")

