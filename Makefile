# The two commands users need: `make demo` and `make test`. Each sets up everything it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install catalogues tools lint typecheck pytest jstest ui-test ui-bench test demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

install: $(STAMP)

# Each language's .po compiled to the .mo and .json the package reads (the wheel's build does the
# same); after editing a .po: `make catalogues`. Adding texts: README, "Languages".
catalogues: install
	$(PY) -m mai_widgets.i18n.catalogues compile >/dev/null

lint: install
	$(VENV)/bin/ruff check mai_widgets tests

typecheck: install
	$(VENV)/bin/mypy

# Debian's skopeo, the standard registry client tests/services/test_registry_clients.py drives
# against the emulator (installed with apt-get if missing: as root, or through sudo).
tools:
	@command -v skopeo >/dev/null 2>&1 || { \
	  echo "== installing Debian's skopeo (apt-get: needs root or sudo, and the package mirror)"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq skopeo >/dev/null; }

pytest: install tools catalogues
	$(VENV)/bin/pytest

# The side panel's TypeScript: prettier and eslint (as jupyterlab/extension-template; `jlpm lint`
# in labextension/ fixes), then its unit tests (jest). node_modules come from the install's build.
jstest: install
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --mode=skip-build && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm lint:check && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm test

# Browser tests of the side panel: Galata in Debian's chromium (installed if missing),
# against a local emulator and JupyterLab that the script starts and stops.
ui-test: install catalogues
	labextension/ui-tests/run.sh test

# Side-panel timing and bundle-size rows (labextension/ui-tests/artifacts/bench.json).
ui-bench: install
	labextension/ui-tests/run.sh bench

# pytest includes tests/test_wheel.py: the wheel installed into a fresh venv without Node
# (its dependencies come from the package index; MAI_SKIP_WHEEL_TEST=1 skips it locally).
test: lint typecheck pytest jstest ui-test

# Ctrl-C, `kill <make's pid>` (make passes SIGTERM on to the demo) or closing the terminal
# (SIGHUP) stops JupyterLab, its kernels and the emulator. DEMO_ARGS: e.g. --lab-port 9999.
demo: install catalogues
	$(PY) -m mai_widgets.demo $(DEMO_ARGS)

bench: install
	$(PY) tests/benchmarks/run.py
	labextension/ui-tests/run.sh bench

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
