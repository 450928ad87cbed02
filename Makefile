# Every target builds what it needs from a fresh clone: Python venv and dev tools included.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,serve,s3]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	bash scripts/demo.sh

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check src tests bench scripts

bench: install
	$(PY) bench/run.py

clean:
	rm -rf build .mlops examples/*/.mlops .pytest_cache
