# The two commands of the README: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

BROWSER := /usr/bin/chromium

.PHONY: install demo test lock bench clean-state

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(STAMP)

# The upload page is tested in a real headless Chromium: Debian's, with a CJK font for the screenshots.
$(BROWSER):
	apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei

demo: install
	$(BIN)/vte demo

test: install $(BROWSER)
	$(BIN)/pytest

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
