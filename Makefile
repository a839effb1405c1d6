# Agora: `make serve` starts a Hub on 127.0.0.1 with SQLite + ./data; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8080
DATA ?= ./data

.PHONY: install serve test test-scale system-packages clean

install: system-packages $(VENV)/.installed

# Debian packages the server and the tests use: git-lfs (git users, tests), chromium (UI tests),
# postgresql (the scale-out tests start their own throwaway server; nothing needs to be running).
system-packages:
	@missing=""; command -v git >/dev/null || missing="$$missing git"; \
	command -v git-lfs >/dev/null || missing="$$missing git-lfs"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
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

# Second pass: the compat suite again on PostgreSQL + SeaweedFS (S3) + two server processes behind a
# round-robin proxy, all started by the tests themselves (tests/stack.py). test_git_crash runs a server of
# its own, not the stack: the first pass covers it.
SCALE_COMPAT := AGORA_TEST_STACK=scale $(VENV)/bin/pytest -q tests/compat --deselect tests/compat/test_git_crash.py

test: install
	$(VENV)/bin/pytest -q
	$(SCALE_COMPAT)

test-scale: install
	$(VENV)/bin/pytest -q tests/scale
	$(SCALE_COMPAT)

clean:
	rm -rf $(VENV) .pytest_cache
