# NASBoard: `make run` sets up and starts the dashboard, `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: venv venv-test test test-engine chromium docker-compose run clean assets workers bench-dashboard

# The runtime (requirements.txt: `make run`, the docker image) and, for the tests, requirements-test.txt on top.
venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; NASBoard needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-test.txt
	touch $@

# Browser tests drive Debian's chromium; `playwright install` cannot download here.
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# tests/test_deploy.py validates docker-compose.yml with Debian's docker-compose 1.29 (`docker-compose config` reads
# the file and its profiles without a Docker engine).
docker-compose:
	@command -v docker-compose >/dev/null || { echo "installing Debian's docker-compose for tests/test_deploy.py"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

# Two pytest-xdist processes (TEST_JOBS=1 for one): each has its own test database, Redis prefix, queues and
# folders (webapp/settings_test.py), so their Celery workers never see each other's runs.
TEST_JOBS ?= 2
test: venv-test chromium docker-compose assets
	$(PY) -m pytest -c tests/pytest.ini --rootdir . -n $(TEST_JOBS) tests

test-engine: venv-test
	$(PY) -m pytest -c tests/pytest.ini --rootdir . tests/nascore

# The dashboard: migrations, a demo user (credentials printed), a worker, the web server, the URL.
# SQLite and a filesystem broker unless DATABASE_URL / REDIS_URL are set. PORT=8000 by default.
PORT ?= 8000
run: venv assets
	$(PY) manage.py run_dashboard --port $(PORT)

# plotly.min.js ships inside the plotly package; the pages load it from static/, never a CDN.
assets: venv static/vendor/plotly.min.js

static/vendor/plotly.min.js: $(VENV)/.installed
	@mkdir -p static/vendor
	cp "$$($(PY) -c 'import plotly, os; print(os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js"))')" $@

# Workers for this machine (one per GPU, or one CPU worker), e.g. to join a shared deployment: they need the
# deployment's SECRET_KEY (and DATABASE_URL, REDIS_URL) in the environment.
workers: venv
	$(PY) manage.py start_workers

# Measures the events endpoint (20 pollers, 100 DARTS epochs) on the configured database.
bench-dashboard: venv assets
	$(PY) manage.py bench_events  # local mode, like make run (manage.py's LOCAL_COMMANDS)

clean:
	rm -rf $(VENV) runs
