"""Deployments that start: the compose file as docker-compose 1.29 resolves it for each profile, the image's
requirements, the SECRET_KEY the settings accept, and /healthz.

No Docker engine is needed: ``docker-compose config`` reads, interpolates and validates the file and its profiles
(``make test`` installs Debian's docker-compose where it is missing). The image itself is not built here.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection

from webapp import secret_key as sk

ROOT = Path(__file__).resolve().parents[1]
KEY = "k" * 20 + "-a-proper-key-for-the-compose-tests-0123456789"
ALWAYS = {"postgres", "redis", "migrate", "web", "worker-cpu"}
SERVERS = {"postgres", "redis"}  # images of their own; every other service runs the app
APP_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "NASBOARD_DATA_DIR", "NASBOARD_ARTIFACT_DIR",
           "NASBOARD_BENCHMARK_DIR", "NASCORE_BENCHMARK_DIR", "NASBOARD_AUTO_QUEUE")
#: what only the tests use: none of it may be in requirements.txt (the image) or imported by the app
TEST_PACKAGES = {"pytest", "pytest-django", "pytest-timeout", "pytest-xdist", "execnet", "playwright", "greenlet",
                 "schemathesis", "hypothesis", "hypothesis-graphql", "jsonschema_rs", "anyio", "certifi",
                 "charset-normalizer", "graphql-core", "harfile", "idna", "markdown-it-py", "mdurl", "pyrate-limiter",
                 "requests", "rich", "sortedcontainers", "urllib3", "werkzeug"}


# ---- docker compose ---------------------------------------------------------------------------------------------
def compose(*args: str, env: dict[str, str] | None = None, tmp: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: `make test` installs it (apt-get install docker-compose)")
    empty = tmp / "empty.env"  # never a developer's .env: only what each test passes
    empty.write_text("")
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), **(env or {})}
    return subprocess.run([exe, "--env-file", str(empty), "-f", str(ROOT / "docker-compose.yml"), *args, "config"],
                          cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120)


_configs: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], dict[str, Any]] = {}


def config(tmp_path_factory: pytest.TempPathFactory, profiles: tuple[str, ...] = (), **env: str) -> dict[str, Any]:
    """The resolved compose file (``docker-compose [--profile P ...] config``) with SECRET_KEY and ``env`` set."""
    key = (profiles, tuple(sorted(env.items())))
    if key not in _configs:
        args = [a for p in profiles for a in ("--profile", p)]
        done = compose(*args, env={"SECRET_KEY": KEY, **env}, tmp=tmp_path_factory.mktemp("compose"))
        assert done.returncode == 0, done.stderr
        _configs[key] = yaml.safe_load(done.stdout)
    return _configs[key]


def started(cfg: dict[str, Any], profiles: set[str]) -> set[str]:
    """Compose's rule: a service without profiles starts on every `up`, one with profiles only when one is active
    (docker-compose 1.29's `config` lists every service, so the rule is applied to its answer)."""
    return {name for name, svc in cfg["services"].items() if not svc.get("profiles") or set(svc["profiles"]) & profiles}


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def served_queues(cfg: dict[str, Any], services: set[str]) -> set[str]:
    return {q for name in services if name.startswith("worker-")
            for q in option(cfg["services"][name]["command"], "-Q").split(",")}


@pytest.mark.parametrize("profiles, expected", [
    ((), ALWAYS),
    (("gpu",), ALWAYS | {"worker-gpu0"}),
    (("gpu", "gpu1"), ALWAYS | {"worker-gpu0", "worker-gpu1"}),
])
def test_each_profile_starts_its_services(tmp_path_factory: pytest.TempPathFactory, profiles: tuple[str, ...],
                                          expected: set[str]) -> None:
    cfg = config(tmp_path_factory, profiles)
    up = started(cfg, set(profiles))
    assert up == expected
    for name in up:  # compose refuses an `up` whose service depends on one the active profiles leave out
        assert set(cfg["services"][name].get("depends_on", {})) <= up, name


def test_plain_up_has_no_gpu_and_serves_auto_runs(tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = config(tmp_path_factory)
    up = started(cfg, set())
    for name in up:
        assert "deploy" not in cfg["services"][name], f"{name} reserves a GPU on a plain up"
    cpu = cfg["services"]["worker-cpu"]
    assert option(cpu["command"], "-Q") == "cpu"
    assert cpu["environment"]["CUDA_VISIBLE_DEVICES"] == ""
    # device "auto" goes to NASBOARD_AUTO_QUEUE (services.experiments.queue_for): cpu unless set, and served
    for name in up - SERVERS:
        assert cfg["services"][name]["environment"]["NASBOARD_AUTO_QUEUE"] == "cpu"
    assert served_queues(cfg, up) == {"cpu"}


def test_gpu_profile_routes_auto_runs_to_gpu_workers(tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = config(tmp_path_factory, ("gpu", "gpu1"), NASBOARD_AUTO_QUEUE="gpu")
    up = started(cfg, {"gpu", "gpu1"})
    for name in up - SERVERS:
        assert cfg["services"][name]["environment"]["NASBOARD_AUTO_QUEUE"] == "gpu"
    assert served_queues(cfg, up) == {"cpu", "gpu"}
    for n in ("0", "1"):  # each worker pinned to its own device, one run at a time, named after it
        svc = cfg["services"][f"worker-gpu{n}"]
        (device,) = svc["deploy"]["resources"]["reservations"]["devices"]
        assert device["device_ids"] == [n] and device["capabilities"] == ["gpu"]
        assert option(svc["command"], "-Q") == "gpu" and option(svc["command"], "-c") == "1"
        assert option(svc["command"], "-n") == f"gpu{n}@%h"


def test_app_services_share_volumes_and_environment(tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = config(tmp_path_factory, ("gpu", "gpu1"))
    apps = set(cfg["services"]) - SERVERS
    assert apps == {"migrate", "web", "worker-cpu", "worker-gpu0", "worker-gpu1"}
    for name in apps:
        svc = cfg["services"][name]
        env = svc["environment"]
        missing = [k for k in APP_ENV if not env.get(k)]
        assert not missing, f"{name} lacks {missing}"
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        # every folder the settings and the engine read is a named volume every app service mounts
        assert mounts.get(env["NASBOARD_DATA_DIR"]) == "data", name
        assert mounts.get(env["NASBOARD_ARTIFACT_DIR"]) == "artifacts", name
        assert mounts.get(env["NASBOARD_BENCHMARK_DIR"]) == "benchmarks", name
        assert env["NASCORE_BENCHMARK_DIR"] == env["NASBOARD_BENCHMARK_DIR"]  # `nascore benchmark import` default
        assert env["SECRET_KEY"] == KEY
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        # the web healthcheck asks for http://localhost:8000/healthz from inside the container
        assert "localhost" in env["ALLOWED_HOSTS"].split(",")
    assert {"data", "artifacts", "benchmarks"} <= set(cfg["volumes"])
    hosts = config(tmp_path_factory, (), ALLOWED_HOSTS="nas.example.org")["services"]["web"]["environment"]
    assert hosts["ALLOWED_HOSTS"].split(",") == ["nas.example.org", "localhost"]


def test_healthchecks_and_start_order(tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg = config(tmp_path_factory, ("gpu", "gpu1"))
    services = cfg["services"]
    long_running = set(services) - {"migrate"}
    for name in long_running:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert services[name]["restart"] == "unless-stopped"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "http://localhost:8000/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name in long_running - SERVERS - {"web"}:  # a worker pings itself by the name it was started with
        worker_name = option(services[name]["command"], "-n").replace("%h", "$HOSTNAME")
        # `config` prints the file's `$$` escape as it is; the container's shell gets `$HOSTNAME`
        test = " ".join(services[name]["healthcheck"]["test"]).replace("$$", "$")
        assert "inspect ping" in test and f"-d {worker_name}" in test, name
    after_migrate = {"postgres": "service_healthy", "redis": "service_healthy",
                     "migrate": "service_completed_successfully"}
    for name in long_running - SERVERS:
        assert {k: v["condition"] for k, v in services[name]["depends_on"].items()} == after_migrate, name
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert {k: v["condition"] for k, v in migrate["depends_on"].items()} == {"postgres": "service_healthy"}
    assert migrate["restart"] == "no"  # one shot: it must not be restarted after it succeeded


def test_compose_refuses_to_run_without_secret_key(tmp_path: Path) -> None:
    done = compose(tmp=tmp_path)
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr and "openssl rand" in done.stderr
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${SECRET_KEY:?" in text
    for published in sk.PUBLISHED_KEYS:
        assert published not in text


# ---- the image's requirements -------------------------------------------------------------------------------------
def _names(path: Path) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[0-9][^\s=]*", line), f"not an exact pin: {line}"
            out.append(re.split(r"[\[=]", line)[0].lower().replace("_", "-"))
    return out


def test_runtime_requirements_carry_no_test_package() -> None:
    runtime = _names(ROOT / "requirements.txt")
    test_only = _names(ROOT / "requirements-test.txt")
    normal = {p.lower().replace("_", "-") for p in TEST_PACKAGES}
    assert not set(runtime) & normal
    assert {"pytest", "pytest-django", "playwright", "schemathesis", "hypothesis", "jsonschema-rs"} <= set(test_only)
    assert not set(runtime) & set(test_only)
    assert "-r requirements.txt" in (ROOT / "requirements-test.txt").read_text().splitlines()
    assert {"django", "celery", "torch", "psycopg", "optuna"} <= set(runtime)


def test_app_code_imports_no_test_package() -> None:
    """What the image runs (nascore, webapp, manage.py) never imports a package only requirements-test.txt has,
    except the one optional developer path: `manage.py bench_events --browser` drives Chromium with playwright."""
    allowed = {("webapp/experiments/management/bench_browser.py", "playwright.sync_api")}
    modules = {"pytest", "playwright", "greenlet", "schemathesis", "hypothesis", "jsonschema_rs", "anyio", "requests",
               "rich", "werkzeug", "urllib3", "idna", "certifi", "sortedcontainers", "markdown_it", "graphql", "execnet"}
    for path in [ROOT / "manage.py", *(ROOT / "nascore").rglob("*.py"), *(ROOT / "webapp").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                where = str(path.relative_to(ROOT))
                assert name.split(".")[0] not in modules or (where, name) in allowed, f"{where} imports {name}"


def test_dockerfile_installs_only_the_runtime() -> None:
    dockerfile = (ROOT / "webapp/docker/Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and all("-r requirements.txt" in line for line in installs)
    instructions = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    assert not any("requirements-test" in line for line in instructions)
    assert not any(p in line for line in installs for p in ("pytest", "playwright", "schemathesis", "hypothesis"))
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"tests/", "requirements-test.txt", ".venv", ".env", "runs/"} <= set(ignored)
    # the volumes' mount points exist in the image and belong to its user, so empty named volumes are writable
    assert re.search(r"mkdir -p /data /artifacts /benchmarks", dockerfile)


def test_make_test_installs_the_test_requirements_and_docker_compose() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = {m.group(1): m.group(2).split() for m in re.finditer(r"^([\w.$()/-]+):(?!=)(.*)$", makefile, re.M)}
    assert {"venv-test", "docker-compose"} <= set(targets["test"])
    assert targets["run"] == ["venv", "assets"]
    assert "requirements-test.txt" in targets["$(VENV)/.installed-test"]
    assert "$(PIP) install -q -r requirements-test.txt" in makefile
    assert "command -v docker-compose" in makefile and "apt-get install -y -qq docker-compose" in makefile


# ---- SECRET_KEY -------------------------------------------------------------------------------------------------
def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py ...`` as a deployment runs it: webapp.settings, no local flag, only the environment given."""
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "NASBOARD_LOCAL", "REDIS_URL")}
    base.update(DJANGO_SETTINGS_MODULE="webapp.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                NASBOARD_BROKER_DIR=str(tmp_path / "broker"), STATIC_ROOT=str(tmp_path / "static"),
                OMP_NUM_THREADS="1", **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("key", [None, "", *sorted(sk.PUBLISHED_KEYS)])
def test_settings_refuse_a_missing_or_published_key(tmp_path: Path, key: str | None) -> None:
    done = manage(tmp_path, "check", **({} if key is None else {"SECRET_KEY": key}))
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    expected = "SECRET_KEY is not set" if not key else "SECRET_KEY is a default published in the NASBoard repository"
    assert expected in done.stderr
    assert "secrets.token_urlsafe(50)" in done.stderr  # says how to make one


def test_settings_accept_a_proper_key(tmp_path: Path) -> None:
    done = manage(tmp_path, "check", SECRET_KEY=KEY)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_workers_joining_a_deployment_need_the_key_and_make_run_does_not(tmp_path: Path) -> None:
    assert manage(tmp_path, "start_workers", "--help").returncode != 0  # `make workers`: the deployment's key
    done = manage(tmp_path, "run_dashboard", "--help")  # `make run` on a fresh machine: local mode
    assert done.returncode == 0, done.stderr
    assert "--no-worker" in done.stdout


def test_local_key_is_generated_once_per_machine_and_private(tmp_path: Path) -> None:
    local = {"NASBOARD_LOCAL": "1"}
    first = sk.secret_key(local, tmp_path / "runs")
    path = tmp_path / "runs" / sk.LOCAL_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 50 and first not in sk.PUBLISHED_KEYS
    assert sk.secret_key(local, tmp_path / "runs") == first  # the same on every start (sessions survive)
    for published in sk.PUBLISHED_KEYS:  # even asked for, a published key is never used
        assert sk.secret_key({**local, "SECRET_KEY": published}, tmp_path / "runs") == first
    assert sk.secret_key(local, tmp_path / "other") != first  # another machine, another key
    assert sk.secret_key({**local, "SECRET_KEY": KEY}, tmp_path / "runs") == KEY  # a set key wins
    assert sorted(p.name for p in path.parent.iterdir()) == [sk.LOCAL_KEY_FILE]  # no temporary file left
    path.write_text("short\n")
    with pytest.raises(ImproperlyConfigured, match="damaged"):
        sk.secret_key(local, tmp_path / "runs")


def test_test_settings_are_local_mode() -> None:
    from django.conf import settings

    assert os.environ["NASBOARD_LOCAL"] == "1"  # inherited by the workers tests/webapp/conftest.py starts
    assert settings.SECRET_KEY and settings.SECRET_KEY not in sk.PUBLISHED_KEYS


# ---- /healthz ---------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_healthz_answers_json_without_login(client: Any) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200  # not a redirect to the login page
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in answer["Cache-Control"]
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_healthz_says_when_the_database_does_not_answer(client: Any) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("connection refused")):
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "error", "database": "OperationalError: connection refused"}
