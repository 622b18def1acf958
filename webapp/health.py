"""``/healthz``: a cheap liveness and readiness answer for load balancers and docker compose's healthcheck.

No login, no session, no template: it runs one trivial query on the database and answers JSON, 200 when the
database answers and 503 (with the reason) when it does not.
"""
from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure is an unhealthy answer, never a 500 page
        return JsonResponse({"status": "error", "database": f"{type(exc).__name__}: {exc}"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
