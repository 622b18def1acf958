"""Error pages: plain, with no traceback; API paths answer JSON in the API's error shape, whichever layer refused.

Django answers these itself, outside any view: a Host not in ALLOWED_HOSTS is refused by the middleware, an
exception a view did not handle reaches handler500. Under /api/ a client expects JSON from every answer, so each
handler asks ``webapp.experiments.api.errors`` for it there.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure

from webapp.experiments.api import errors as api_errors


def _is_api(request: HttpRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_errors.error_response(404, "not found")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_errors.error_response(500, api_errors.INTERNAL_ERROR)
    return render(request, "500.html", status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A SuspiciousOperation (DisallowedHost, a body over DATA_UPLOAD_MAX_MEMORY_SIZE, ...); Django has logged it."""
    if _is_api(request) and exception is not None:
        return api_errors.refused_request(request, exception, logged=True)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_errors.error_response(403, "permission denied")
    return defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: Django's page for the dashboard, the API's JSON 403 under /api/."""
    if _is_api(request):
        return api_errors.error_response(403, api_errors.CSRF_REFUSED)
    return django_csrf_failure(request, reason)
