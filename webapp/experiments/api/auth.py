"""Who calls the API: an ``Authorization: Bearer TOKEN`` header, else the dashboard's login session.

A header that is there but wrong is refused (401) rather than falling back to the session, so a script with a
revoked token never acts as whoever is logged in. Session requests that change state need the CSRF token, as the
dashboard's forms do; token requests do not, since a browser never sends the token on its own.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from ninja.security.base import AuthBase

from webapp.experiments.api.errors import CSRF_REFUSED, ApiError
from webapp.experiments.models import ApiToken, hash_token

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: a token's last use is written at most this often: a live page or script polling every second would otherwise
#: write the same row on every poll (and pollers sharing a token wait on each other's row lock)
STAMP_EVERY = timedelta(minutes=1)


class BearerToken(AuthBase):
    """A per-user API token (``python manage.py create_token USER``); its last use is stamped on it (to the minute)."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_description = "a token from `python manage.py create_token USER`"

    def __call__(self, request: HttpRequest) -> Any:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <token>'")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key.strip())).first()
        if token is None or not token.user.is_active:
            raise ApiError(401, "the API token is not valid")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= STAMP_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user


class SessionCookie(AuthBase):
    """The dashboard's login; a request that changes state must carry ``X-CSRFToken`` (403 otherwise)."""

    openapi_type = "apiKey"
    openapi_in = "cookie"
    openapi_name = settings.SESSION_COOKIE_NAME
    openapi_description = "the dashboard's login; send X-CSRFToken on POST and PATCH"
    #: tells ninja's Swagger page to send the CSRF token
    csrf = True

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and _csrf_refused(request):
            raise ApiError(403, CSRF_REFUSED)
        return request.user


def _csrf_refused(request: HttpRequest) -> bool:
    check = CsrfViewMiddleware(lambda r: HttpResponse())
    check.process_request(request)
    return check.process_view(request, lambda r: HttpResponse(), (), {}) is not None
