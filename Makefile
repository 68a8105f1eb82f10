# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed
# Every local distribution, installed in place (compat mode: a plain path entry, no import hook,
# so the CLI starts as fast as an installed one).
LOCAL_DISTS := -e hookspecs -e backends/local-files -e ".[dev]"

.PHONY: setup demo test lint type bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml hookspecs/pyproject.toml backends/local-files/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet --constraint constraints.txt --config-settings editable_mode=compat $(LOCAL_DISTS)
	$(PY) -m compileall -q faber_host hookspecs/faber_hookspecs backends
	touch $(STAMP)

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash contrib/demo/demo.sh

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .

type: setup
	$(PY) -m mypy hookspecs/faber_hookspecs faber_host backends/local-files/faber_backend_local_files

clean:
	rm -rf $(VENV) .tox .pytest_cache .mypy_cache .ruff_cache
