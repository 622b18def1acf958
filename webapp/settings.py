"""NASBoard settings, all from the environment with defaults that work on a bare machine.

Without ``DATABASE_URL`` the app uses SQLite; without ``REDIS_URL`` Celery uses kombu's
filesystem transport, so ``make run`` needs no server. With them it uses PostgreSQL and Redis.
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"environment variable {name} must be an integer, not {value!r}") from None


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise RuntimeError(f"environment variable {name} must be a number, not {value!r}") from None


DEBUG = _env_bool("DEBUG", False)
# Never a published key: a deployment sets SECRET_KEY (refused when missing or a known default); local mode
# (NASBOARD_LOCAL=1: make run, the test settings) uses a per-machine key kept in runs/ (webapp/secret_key.py).
from webapp.secret_key import secret_key  # noqa: E402

SECRET_KEY = secret_key(os.environ, BASE_DIR / "runs")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # its templates and static files: the API's Swagger page, served from /static/
    "webapp.experiments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---- database -----------------------------------------------------------------------
_RUNS_DIR = BASE_DIR / "runs"  # git-ignored: the default SQLite file and filesystem broker live here
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{_RUNS_DIR / 'nasboard.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=_env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web server, worker and heartbeat write concurrently: wait for locks, use WAL.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # who holds a connection, as pg_stat_activity shows it (a worker sets its own name; the fault tests find and
    # terminate one worker's connections by it)
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = os.environ.get(
        "NASBOARD_DB_APPLICATION_NAME", "nasboard")[:63]
# The web server (webapp/asgi.py sets NASBOARD_DB_POOL=1): under ASGI each request runs in a thread of its own, so
# a persistent connection per thread is never reused and every request would connect anew; a psycopg pool per
# process hands connections from request to request instead. Workers and commands keep their own connections.
if os.environ.get("NASBOARD_DB_POOL") == "1" and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django refuses both at once
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": _env_int("NASBOARD_DB_POOL_SIZE", 12), "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "experiments:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# ---- static files (served by whitenoise; plotly.min.js is copied into static/vendor) ----
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
WHITENOISE_USE_FINDERS = True  # serve straight from static/ without collectstatic

# ---- folders ------------------------------------------------------------------------
#: where workers find (or download) data sets
NASBOARD_DATA_DIR = Path(os.environ.get("NASBOARD_DATA_DIR", BASE_DIR / "data"))
#: where each run writes events.jsonl, result.json, checkpoint.pt; must be shared by all
#: workers (NFS, a docker volume) for a run to resume on another machine
NASBOARD_ARTIFACT_DIR = Path(os.environ.get("NASBOARD_ARTIFACT_DIR", BASE_DIR / "artifacts"))
#: where imported tabular benchmarks are (``python -m nascore benchmark import PATH --store DIR``); the pages
#: show NAS-Bench-201 accuracies and the form offers table searches when a table is there
NASBOARD_BENCHMARK_DIR = Path(os.environ.get("NASBOARD_BENCHMARK_DIR") or os.environ.get("NASCORE_BENCHMARK_DIR")
                              or Path.home() / ".nascore" / "benchmarks").expanduser()

# ---- limits ---------------------------------------------------------------------------
NASBOARD_MAX_EPOCHS = _env_int("NASBOARD_MAX_EPOCHS", 200)
NASBOARD_MAX_BATCH_SIZE = _env_int("NASBOARD_MAX_BATCH_SIZE", 512)
NASBOARD_MAX_CONCURRENT_RUNS = _env_int("NASBOARD_MAX_CONCURRENT_RUNS", 3)  # queued + running, per user
NASBOARD_MAX_TABLE_QUERIES = _env_int("NASBOARD_MAX_TABLE_QUERIES", 20_000)  # runs x budget of one table search
NASBOARD_MAX_ATTEMPTS = _env_int("NASBOARD_MAX_ATTEMPTS", 3)  # worker starts before a run is given up
NASBOARD_HEARTBEAT_SECONDS = _env_float("NASBOARD_HEARTBEAT_SECONDS", 10.0)
NASBOARD_HEARTBEAT_TIMEOUT = _env_float("NASBOARD_HEARTBEAT_TIMEOUT", 90.0)  # silent this long: worker lost
NASBOARD_REAPER_SECONDS = _env_float("NASBOARD_REAPER_SECONDS", 30.0)  # how often workers look for lost runs
NASBOARD_POLL_MS = _env_int("NASBOARD_POLL_MS", 1000)  # live page polling period
NASBOARD_EVENTS_PAGE = _env_int("NASBOARD_EVENTS_PAGE", 500)  # events per API answer
#: the live event stream (api/stream.py): a comment line this often keeps proxies from closing an idle stream; the
#: database is read at least this often even when no Redis message woke the stream (the safety net; without Redis,
#: its polling period)
NASBOARD_STREAM_HEARTBEAT_SECONDS = _env_float("NASBOARD_STREAM_HEARTBEAT_SECONDS", 15.0)
NASBOARD_STREAM_CHECK_SECONDS = _env_float("NASBOARD_STREAM_CHECK_SECONDS", 5.0)
NASBOARD_STREAM_POLL_SECONDS = _env_float("NASBOARD_STREAM_POLL_SECONDS", 0.5)
#: an HPO study's trials: each running trial beats Optuna's heartbeat this often (whole seconds, Optuna's unit); one
#: silent for the grace period was lost with its worker: it is marked failed and retried once (services/studies.py)
NASBOARD_TRIAL_HEARTBEAT_SECONDS = _env_int("NASBOARD_TRIAL_HEARTBEAT_SECONDS", 10)
NASBOARD_TRIAL_GRACE_SECONDS = _env_int("NASBOARD_TRIAL_GRACE_SECONDS", 60)
#: trial tasks a study puts on its queue at once (each keeps taking trials until the study needs none): at most this
#: many workers share one study
NASBOARD_STUDY_TASKS = _env_int("NASBOARD_STUDY_TASKS", 4)
#: a trial task that has run this long hands over to a new task after its current trial (other queued work gets its
#: turn; a worker's warm shutdown waits for one trial)
NASBOARD_STUDY_TASK_SECONDS = _env_float("NASBOARD_STUDY_TASK_SECONDS", 300.0)
#: queue for device "auto": "gpu" where GPU workers exist (docker compose), else "cpu"
NASBOARD_AUTO_QUEUE = os.environ.get("NASBOARD_AUTO_QUEUE", "cpu")
if NASBOARD_AUTO_QUEUE not in ("cpu", "gpu"):
    raise RuntimeError(f"NASBOARD_AUTO_QUEUE must be 'cpu' or 'gpu', not {NASBOARD_AUTO_QUEUE!r}")
#: prefix for queue names, so that several deployments (or test runs) can share one Redis
NASBOARD_QUEUE_PREFIX = os.environ.get("NASBOARD_QUEUE_PREFIX", "")

# ---- Celery -------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any search: an unacknowledged run is only redelivered by Redis after
        # this; a vanished worker is noticed sooner by the heartbeat reaper.
        "visibility_timeout": _env_int("NASBOARD_VISIBILITY_TIMEOUT", 7 * 24 * 3600),
        "global_keyprefix": os.environ.get("NASBOARD_REDIS_PREFIX", ""),
    }
else:
    _broker_dir = Path(os.environ.get("NASBOARD_BROKER_DIR", _RUNS_DIR / "broker"))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = NASBOARD_QUEUE_PREFIX + "cpu"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
# A stopping worker's runs hand themselves back at their next step (experiments/worker_stop.py); these bound the wait
# when a step is slow: a cold shutdown (SIGQUIT, a second Ctrl-C) still gives the runs this long (Celery's soft
# shutdown), and an idle worker's reserved messages go back to the queue at once.
NASBOARD_STOP_GRACE_SECONDS = _env_float("NASBOARD_STOP_GRACE_SECONDS", 25.0)
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = NASBOARD_STOP_GRACE_SECONDS
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = True

# ---- caching and logging ------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"

# ---- API error answers ------------------------------------------------------------------
#: a refused CSRF check answers JSON under /api/ (the API's session auth asks Django's check), Django's page elsewhere
CSRF_FAILURE_VIEW = "webapp.errors.csrf_failure"

# ---- HTTPS: NASBOARD_HTTPS=1 ------------------------------------------------------------
# Served over TLS, usually behind a proxy that terminates it and says so in X-Forwarded-Proto (the proxy must set
# that header itself, never pass a client's on). Cookies only over HTTPS, plain HTTP redirected, and HSTS for a
# year, subdomains included and preload-ready: with a real SECRET_KEY and DEBUG off, `manage.py check --deploy`
# is clean. /healthz is never redirected, so a container healthcheck over plain HTTP keeps working.
NASBOARD_HTTPS = _env_bool("NASBOARD_HTTPS", False)
if NASBOARD_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
