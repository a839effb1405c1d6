# Agora: `make serve` starts a Hub on 127.0.0.1 with SQLite + ./data; `make test` runs the suite.
#   make install       what serving needs: git, git-lfs (Debian packages) and .venv with Agora (+ [inference])
#   make install-test  that, plus what the tests need: chromium, postgresql and Agora's [test] extras
#   make check         the gate: ruff (lint + format), mypy, the import rules (lint-imports); CI runs it first
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8080
DATA ?= ./data

.PHONY: install install-test lock serve check test test-scale system-packages system-packages-test clean

install: system-packages $(VENV)/.installed

install-test: install system-packages-test $(VENV)/.installed-test

# Installs the missing Debian packages: $(1) is one shell test per package, adding its name to $$missing.
define apt_install
@missing=""; $(1); \
	if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
  else echo "Please install:$$missing (apt-get install$$missing)"; exit 1; fi; \
fi
endef

# Serving: git runs clones and pushes (upload-pack, receive-pack), git-lfs for the users of the host;
# bubblewrap (bwrap) and util-linux (setpriv) run Space apps sandboxed, each as a uid of its own.
system-packages:
	$(call apt_install,command -v git >/dev/null || missing="$$missing git"; \
	command -v git-lfs >/dev/null || missing="$$missing git-lfs"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v setpriv >/dev/null || missing="$$missing util-linux")

# Tests: chromium (UI tests, driven by Playwright at /usr/bin/chromium), postgresql (the scale-out tests
# start their own throwaway server; nothing needs to be running).
system-packages-test:
	$(call apt_install,test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql")

# Two stamps: .installed = the package and what serving needs, with the [inference] extra (torch CPU build,
# transformers: the model widget); .installed-test = the [test] extras on top.
# requirements.lock (pip constraints) holds every version exactly: two machines install the same packages.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[inference]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml requirements.lock
	$(PY) -m pip install -q -c requirements.lock -e '.[test,inference]'
	touch $@

# Writes requirements.lock again: the versions pip resolves today for pyproject.toml's ranges (with [test]
# and [inference]).
lock: $(VENV)/.installed
	$(PY) scripts/lock.py $(if $(UPGRADE),--upgrade)

serve: install
	$(VENV)/bin/agora serve --host $(HOST) --port $(PORT) --data $(DATA)

# Second pass: the compat suite again on PostgreSQL + SeaweedFS (S3) + two server processes behind a
# round-robin proxy, all started by the tests themselves (tests/stack.py). The crash tests (test_git_crash,
# test_lfs_multipart_crash) and test_inference run servers of their own, not the stack: the first pass covers
# them (and tests/scale/test_inference_scale.py runs inference on the stack).
SCALE_COMPAT := AGORA_TEST_STACK=scale $(VENV)/bin/pytest -q tests/compat --deselect tests/compat/test_git_crash.py \
	--deselect tests/compat/test_lfs_multipart_crash.py --deselect tests/compat/test_inference.py

# The gate: lint, formatting, types, layer rules (configured in pyproject.toml). The tools are [test] extras,
# pinned by requirements.lock. Each step runs even if an earlier one failed, so one run reports everything.
CHECKED := src tests bench scripts
check: $(VENV)/.installed-test
	@rc=0; \
	$(VENV)/bin/ruff check $(CHECKED) || rc=1; \
	$(VENV)/bin/ruff format --check $(CHECKED) || rc=1; \
	$(VENV)/bin/mypy || rc=1; \
	$(VENV)/bin/lint-imports || rc=1; \
	exit $$rc

test: install-test
	$(VENV)/bin/pytest -q
	$(SCALE_COMPAT)

test-scale: install-test
	$(VENV)/bin/pytest -q tests/scale
	$(SCALE_COMPAT)

clean:
	rm -rf $(VENV) .pytest_cache
