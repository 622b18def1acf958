# NASBoard: `make run` sets up and starts the dashboard, `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: venv test test-engine chromium run clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; NASBoard needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

# Browser tests drive Debian's chromium; `playwright install` cannot download here.
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: venv chromium
	$(PY) -m pytest -c tests/pytest.ini --rootdir . tests

test-engine: venv
	$(PY) -m pytest -c tests/pytest.ini --rootdir . tests/nascore

run: venv
	$(PY) -m nascore search --space darts --optimizer darts --dataset digits --epochs 3 --out runs/demo

clean:
	rm -rf $(VENV) runs
