"""The API's error answers: always JSON, ``{"error": message}`` plus ``"errors": {field: message}`` for bad input.

django-ninja's own answers (422 with pydantic's error list, a bare 405, ``{"detail": ...}``) are replaced here so
that every error of the API, whichever layer refuses the request, has the one shape clients and the OpenAPI
document know.
"""
from __future__ import annotations

import functools
import logging
import re
from typing import Any, Callable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from webapp.experiments import services

View = Callable[..., HttpResponse]

#: what refusing a request's input means, per (method, URL name): the ``error`` of a 400 for bad input
NOT_DONE = {
    ("POST", "experiments"): "the experiment was not created",
    ("POST", "retrain"): "the retrain was not created",
    ("PATCH", "detail"): "experiment #{id} was not changed",
    ("POST", "study_create"): "the study was not created",
}
AUTHENTICATION_REQUIRED = "authentication required: log in, or send 'Authorization: Bearer <token>'"
CSRF_REFUSED = "CSRF check failed: send the X-CSRFToken header with session auth, or use a token"
INTERNAL_ERROR = "internal error; it was logged"
#: the methods whose body the API may read: the only ones refused for a body that is too large
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")

logger = logging.getLogger("webapp.api")


class ApiError(Exception):
    """An answer other than success: ``status`` with ``{"error": message}`` (and ``errors`` when given)."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def error_response(status: int, message: str, errors: dict[str, str] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if errors is not None:
        body["errors"] = errors
    return JsonResponse(body, status=status)


def _not_done(request: HttpRequest) -> str | None:
    """The operation's own words for refused input (``the experiment was not created``), if it has them."""
    match = request.resolver_match
    template = NOT_DONE.get((request.method or "", match.url_name)) if match else None
    return template.format(**match.kwargs) if template and match else None


def _path(loc: tuple[Any, ...]) -> str:
    """The field path of a ninja error location: ``("body", "payload", "tags", 0)`` is ``tags.0``, a whole
    body ``body``, a query parameter its name."""
    source, *rest = loc
    if source == "body":
        rest = rest[1:]  # the view's parameter name
    return ".".join(str(part) for part in rest) or str(source)


def _unquoted(expected: str) -> str:
    return re.sub(r"'([\w-]+)'", r"\1", expected)


def describe(field: str, error: dict[str, Any]) -> str:
    """A pydantic error in the API's words, naming the field."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if field == "body" and kind in ("missing", "model_type", "model_attributes_type", "dict_type"):
        return "send a JSON object" if kind == "missing" else "the body must be a JSON object"
    messages = {
        "missing": f"{field} is required",
        "extra_forbidden": f"unknown field {field!r}",
        "bool_parsing": f"{field} must be true or false",
        "bool_type": f"{field} must be true or false",
        "int_parsing": f"{field} must be an integer",
        "int_type": f"{field} must be an integer",
        "int_from_float": f"{field} must be an integer",
        "string_type": f"{field} must be a string",
        "dict_type": f"{field} must be a JSON object",
        "list_type": f"{field} must be a list",
        "literal_error": f"{field} must be {_unquoted(str(ctx.get('expected', '')))}",
        "greater_than_equal": f"{field} must be at least {ctx.get('ge')}",
        "less_than_equal": f"{field} must be at most {ctx.get('le')}",
        "string_too_short": f"{field} must not be empty" if ctx.get("min_length") == 1
        else f"{field} must have at least {ctx.get('min_length')} characters",
        "string_too_long": f"{field} may have at most {ctx.get('max_length')} characters",
        "too_long": f"{field} may have at most {ctx.get('max_length')} items",
    }
    return messages.get(kind, f"{field}: {error.get('msg', 'not valid')}")


def _invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, str] = {}
    for item in exc.errors:
        path = _path(tuple(item["loc"]))
        errors.setdefault(path.split(".")[0], describe(path, item))  # keyed by the field, as forms show them
    return error_response(400, _not_done(request) or "; ".join(errors.values()), errors)


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ValueError):  # ninja could not parse the body as JSON
        errors = {"body": f"the body is not valid JSON: {exc.__cause__}"}
        return error_response(400, _not_done(request) or errors["body"], errors)
    return error_response(exc.status_code, exc.message)


def _not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(401, AUTHENTICATION_REQUIRED)
    response["WWW-Authenticate"] = 'Bearer realm="nasboard"'
    return response


def too_large() -> JsonResponse:
    return error_response(413, f"the request body is larger than this server accepts "
                               f"({settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes)")


def refused_request(request: HttpRequest, exc: Exception, logged: bool = False) -> JsonResponse:
    """Django's refusals of a request as such (``SuspiciousOperation``, ``BadRequest``, ``PermissionDenied``), in
    the API's shape: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413, a Host not in ALLOWED_HOSTS and other
    malformed requests 400, and a ``PermissionDenied`` 403. Logged as Django logs them (``django.security.*``;
    ``logged``: Django already has), and answered without their details."""
    if isinstance(exc, RequestDataTooBig):
        return too_large()
    if isinstance(exc, PermissionDenied):
        return error_response(403, "permission denied")
    if isinstance(exc, SuspiciousOperation) and not logged:
        logging.getLogger(f"django.security.{type(exc).__name__}").error(str(exc))
    if isinstance(exc, DisallowedHost):
        return error_response(400, "the Host header names no site this server answers for")
    return error_response(400, "the request is malformed and was refused")


def server_error(request: HttpRequest, exc: Exception) -> JsonResponse:
    """An unhandled exception: logged with its traceback, answered with a generic message (ninja would answer the
    traceback as text with DEBUG on, or Django's page without)."""
    logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, INTERNAL_ERROR)


def _body_not_readable(request: HttpRequest, exc: RawPostDataException) -> JsonResponse:
    """A form or multipart body, already parsed as a form (the session's CSRF check), cannot be JSON too."""
    errors = {"body": "the body must be JSON (Content-Type: application/json)"}
    return error_response(400, _not_done(request) or errors["body"], errors)


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every refusal of ``api`` in the API's error shape, an unhandled exception included."""
    api.add_exception_handler(Exception, server_error)
    api.add_exception_handler(SuspiciousOperation, refused_request)
    api.add_exception_handler(PermissionDenied, refused_request)
    api.add_exception_handler(BadRequest, refused_request)
    api.add_exception_handler(RawPostDataException, _body_not_readable)
    api.add_exception_handler(ValidationError, _invalid_input)
    api.add_exception_handler(AuthenticationError, _not_authenticated)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(ApiError, lambda request, exc: error_response(exc.status, exc.message, exc.errors))
    api.add_exception_handler(Http404, lambda request, exc: error_response(404, str(exc) or "not found"))
    api.add_exception_handler(services.ActionRefused, lambda request, exc: error_response(409, str(exc)))
    api.add_exception_handler(services.BrokerUnavailable, lambda request, exc: error_response(503, str(exc)))


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    response = error_response(405, f"method {request.method} is not allowed here; use {', '.join(allowed)}")
    response["Allow"] = ", ".join(allowed)
    return response


def json_errors(view: View) -> View:
    """``view`` (one of ninja's URL views) exempt from Django's HTML CSRF refusal (the API's auth checks CSRF for
    session writes itself), with a JSON 405 in place of ninja's bare one, and a 413 for a declared body over
    DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it, whether the endpoint would read it or not (so every
    write answers the same, as the document says)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method in BODY_METHODS and _too_long(request):
            return too_large()
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            return method_not_allowed(request, sorted(m.strip() for m in response["Allow"].split(",")))
        return response

    return wrapper


def _too_long(request: HttpRequest) -> bool:
    """The body's declared length is over the limit (Django checks it only when something reads the body)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        return limit is not None and int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return False


def get_only(view: View) -> View:
    """A plain view of the API's (the document, the docs page): GET only, JSON 405 otherwise, never Django's CSRF
    page (it changes nothing)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET":
            return method_not_allowed(request, ["GET"])
        return view(request, *args, **kwargs)

    return wrapper


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any /api/ address no endpoint matches, whatever the method (and with no CSRF check: it changes nothing)."""
    return error_response(404, f"no API endpoint at {request.path}")

