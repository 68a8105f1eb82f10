# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed
# Every local distribution, installed in place (compat mode: a plain path entry, no import hook,
# so the CLI starts as fast as an installed one).
LOCAL_DISTS := -e hookspecs -e backends/local-files -e "backends/s3[test]" -e backends/helm -e contrib/backend-jsonl-mirror -e ".[dev]"

.PHONY: setup demo test matrix lint type bench mutants clean

setup: $(STAMP)

$(STAMP): pyproject.toml hookspecs/pyproject.toml backends/local-files/pyproject.toml backends/s3/pyproject.toml backends/helm/pyproject.toml contrib/backend-jsonl-mirror/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet --constraint constraints.txt --config-settings editable_mode=compat $(LOCAL_DISTS)
	$(PY) -m compileall -q faber_host hookspecs/faber_hookspecs backends
	touch $(STAMP)

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash contrib/demo/demo.sh

test: setup
	$(PY) -m pytest

# The backend matrix of tox.ini (local, +helm, +s3, +both, the contrib example, lint, type), two
# environments at a time, each recreated (the local distributions keep their version numbers, so a kept
# environment would test yesterday's hookspecs). CI runs it after `make test`.
matrix: setup
	$(VENV)/bin/tox run-parallel --recreate --parallel 2 --parallel-no-spinner

lint: setup
	$(PY) -m ruff check .

type: setup
	$(PY) -m mypy hookspecs/faber_hookspecs faber_host backends/local-files/faber_backend_local_files \
		backends/helm/faber_backend_helm backends/s3/faber_backend_s3 contrib/backend-jsonl-mirror/faber_jsonl_mirror

# The benchmark table (docs/performance.md); pass flags with BENCH_ARGS="--events 1000000".
bench: setup
	$(PY) -m compileall -q faber_host hookspecs/faber_hookspecs backends  # edited sources would run uncompiled
	$(PY) -m bench $(BENCH_ARGS)

# Mutation testing of the guarantee-carrying modules (docs/reliability.md): the kill rate per group and the
# mutants left alive. One group while working on it: make mutants MODULE=screening MUTANTS_ARGS=--diffs
mutants: setup
	nice $(PY) -m bench.mutants $(MODULE) --max-children 1 $(MUTANTS_ARGS)

clean:
	rm -rf $(VENV) .tox .pytest_cache .mypy_cache .ruff_cache bench/.work mutants hookspecs/mutants backends/*/mutants
