# The two commands of the README: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# System packages the suite runs for real (Debian's): Chromium with a CJK font for the upload page's browser
# test; the PostgreSQL server and Redis for the production topology test (tests/deploy: TLS everywhere);
# LibreOffice Calc (with Carlito, metric-compatible with Excel's Calibri) to print the extract workbooks to PDF.
BROWSER  := /usr/bin/chromium
LIBREOFFICE := /usr/bin/soffice
POSTGRES := /usr/bin/pg_ctlcluster
REDIS    := /usr/bin/redis-server

.PHONY: install demo test test-production lock bench clean-state

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(STAMP)

$(BROWSER) $(POSTGRES) $(REDIS) &:
	apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei postgresql \
		redis-server

$(LIBREOFFICE):
	apt-get update -q && apt-get install -y -q --no-install-recommends libreoffice-calc-nogui fonts-crosextra-carlito

demo: install
	$(BIN)/vte demo

# Two workers (pytest-xdist); a folder's tests run on one worker, so its session worlds are built once
# (tests/conftest.py).
test: install $(BROWSER) $(LIBREOFFICE)
	$(BIN)/pytest -n 2

# docker-compose.yml's services as real processes: PostgreSQL over TLS, Airflow's scheduler, DAG processor,
# API server and triggerer, the intake; then again with Redis and two Celery workers.
test-production: install $(POSTGRES) $(REDIS)
	$(BIN)/pytest -m production tests/deploy

bench: install
	$(BIN)/vte bench --scale province

# Re-resolve the direct dependencies of requirements.in into exact pins.
lock:
	rm -rf /tmp/vte-lock-venv && $(PYTHON) -m venv /tmp/vte-lock-venv
	/tmp/vte-lock-venv/bin/pip install -q --upgrade pip
	/tmp/vte-lock-venv/bin/pip install -q -r requirements.in
	/tmp/vte-lock-venv/bin/pip freeze --exclude-editable | grep -v '^pip==' > requirements.lock

clean-state:
	-$(BIN)/vte warehouse stop
	rm -rf .vte
