# Agora: `make serve` starts a Hub on 127.0.0.1 with SQLite + ./data; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8080
DATA ?= ./data

.PHONY: install serve test system-packages clean

install: system-packages $(VENV)/.installed

# Debian packages the server and the tests use: git-lfs (git users, tests), chromium (UI tests).
system-packages:
	@missing=""; command -v git >/dev/null || missing="$$missing git"; \
	command -v git-lfs >/dev/null || missing="$$missing git-lfs"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Please install:$$missing (apt-get install$$missing)"; exit 1; fi; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

serve: install
	$(VENV)/bin/agora serve --host $(HOST) --port $(PORT) --data $(DATA)

test: install
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
