"""NASBOARD_HTTPS=1 is what makes a deployment behind TLS pass ``manage.py check --deploy``: checked in fresh
processes on the real settings module (not the test settings), with a proper SECRET_KEY and DEBUG off, so the
switch is tested as a server would start with it."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the deployment warnings the switch answers: no HSTS, no redirect, cookies sent over plain HTTP (Django asks for
#: HSTS's subdomains and preload, W005 and W021, only once HSTS is on; the clean run shows those are set)
HTTPS_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}


def _deployment_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A production-like environment: its own SQLite file and broker folder, no test settings, nothing from Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NASBOARD_", "DJANGO_", "REDIS_", "DATABASE_"))}
    env.update(DJANGO_SETTINGS_MODULE="webapp.settings", SECRET_KEY=secrets.token_urlsafe(64), DEBUG="false",
               ALLOWED_HOSTS="nasboard.example", DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
               NASBOARD_BROKER_DIR=str(tmp / "broker"), STATIC_ROOT=str(tmp / "static"), OMP_NUM_THREADS="1", **extra)
    return env


def _check_deploy(tmp: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=_deployment_env(tmp, **extra), capture_output=True, text=True, timeout=300)


def test_check_deploy_is_clean_with_the_https_switch_and_warns_without_it(tmp_path: Path) -> None:
    clean = _check_deploy(tmp_path, NASBOARD_HTTPS="1")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no issues" in clean.stdout
    plain = _check_deploy(tmp_path)
    assert plain.returncode != 0
    assert set(re.findall(r"\((security\.W\d+)\)", plain.stderr)) == HTTPS_WARNINGS, plain.stderr  # nothing else


PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
c = Client(HTTP_HOST="nasboard.example")
plain = c.get("/api/tags")
proxied = c.get("/api/tags", HTTP_X_FORWARDED_PROTO="https")
health = c.get("/healthz")
print(json.dumps({"plain": [plain.status_code, plain.get("Location")],
                  "proxied": [proxied.status_code, proxied["Content-Type"], proxied.get("Strict-Transport-Security")],
                  "health": health.status_code,
                  "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]}))
"""


def test_behind_the_proxy_http_is_redirected_https_gets_hsts_and_healthz_is_never_redirected(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=_deployment_env(tmp_path, NASBOARD_HTTPS="1"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://nasboard.example/api/tags"]
    status, media, hsts = seen["proxied"]
    assert status == 401 and media == "application/json"  # TLS as the proxy says: the API itself answers
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert seen["health"] == 200  # a docker healthcheck over plain HTTP reaches the app, not a redirect
    assert seen["cookies"] == [True, True]
