"""Django's SECRET_KEY: from the environment, never a key published in the repository.

A deployment sets ``SECRET_KEY``; without one (or with a key this repository ever published as a default) the
settings refuse to load. Local mode (``NASBOARD_LOCAL=1``: ``make run`` / ``manage.py run_dashboard`` and the test
settings) instead uses a key generated once per machine and kept in the git-ignored ``runs/`` folder, so a fresh
clone still starts with nothing configured and no two machines share a key.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

#: keys that were ever written in this repository as defaults: anyone can read them, so none may sign sessions
PUBLISHED_KEYS = frozenset({
    "nasboard-dev-insecure-key-set-SECRET_KEY-in-production",  # webapp/settings.py's old fallback
    "change-me-in-production",  # docker-compose.yml's old default
})
LOCAL_FLAG = "NASBOARD_LOCAL"
LOCAL_KEY_FILE = "secret_key"
HOW_TO_GENERATE = ("generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))' "
                   "(or openssl rand -hex 32) and set SECRET_KEY to it in the environment")


def is_local(environ: Mapping[str, str]) -> bool:
    return environ.get(LOCAL_FLAG, "").strip().lower() in ("1", "true", "yes", "on")


def local_key(runs_dir: Path) -> str:
    """This machine's key in ``runs_dir``, created on first use (0600). Several processes starting at once (the
    web server, workers, pytest-xdist) all end up with the same key: it is written to a private file first and
    linked into place, which fails for all but the first."""
    path = runs_dir / LOCAL_KEY_FILE
    if not path.exists():
        runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = runs_dir / f".{LOCAL_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ImproperlyConfigured(f"the local SECRET_KEY file {path} is damaged; delete it and a new key is generated")
    return key


def secret_key(environ: Mapping[str, str], runs_dir: Path) -> str:
    """The key to use, or ImproperlyConfigured saying why there is none and how to make one."""
    key = environ.get("SECRET_KEY", "").strip()
    if key and key not in PUBLISHED_KEYS:
        return key
    if is_local(environ):
        return local_key(runs_dir)
    problem = "SECRET_KEY is not set" if not key else "SECRET_KEY is a default published in the NASBoard repository"
    raise ImproperlyConfigured(
        f"{problem}: {HOW_TO_GENERATE}. Every web server and worker of one deployment needs the same key. "
        f"(Only local development - make run / manage.py run_dashboard, or {LOCAL_FLAG}=1 - uses a per-machine key "
        f"kept in runs/{LOCAL_KEY_FILE}.)"
    )
