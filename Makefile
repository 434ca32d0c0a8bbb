# T.A.R.S. Phase 14.6. `make demo` and `make test` do all the set-up on a fresh machine:
# they create .venv and install the project into it when it is missing or stale.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TARS := $(VENV)/bin/tars
STAMP := $(VENV)/.installed-stamp
TEST_DATA := data/test_data

.PHONY: setup demo test coverage wheel-check lint notebooks bench test-phase14_6 test-retro-unit test-retro-smoke retro-test clean-test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "T.A.R.S. needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

DEMO := demo

# The main job on the embedded simulated week: GA day and days 1..7 through the
# phase notebooks (papermill), then the site and the PDF.
demo: $(STAMP)
	rm -rf $(DEMO) _site
	$(TARS) demo --workspace $(DEMO) --output-dir _site
	@echo "Site: _site/index.html   PDF: _site/GA_7DAY_RETROSPECTIVE.pdf   Artifacts: $(DEMO)/"

test: $(STAMP)
	$(PY) -m pytest
	$(PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg \
	  -W ignore::DeprecationWarning notebooks/
	bash scripts/test_phase14_6_pipeline.sh

# The tests' pytest part under pytest-cov: line coverage of tars_lib, a summary in the
# terminal and the pages in htmlcov/index.html.
coverage: $(STAMP)
	$(PY) -m pytest --cov=tars_lib --cov-report=html --cov-report=term
	@echo "Coverage report: htmlcov/index.html"

# The wheel as a user gets it: built, installed into a fresh venv outside the repo,
# the simulated week run end to end from the installed package (.ci/run calls it).
wheel-check: $(STAMP)
	PYTHON=$(PY) bash scripts/wheel_check.sh

# Benchmarks (not part of make test): prints four tables, writes benchmarks/results.json.
bench: $(STAMP)
	$(PY) -m benchmarks.run

# ruff lints and format-checks the notebooks' code too; lint-imports enforces the
# stage layers (pyproject.toml [tool.importlinter]): imports only flow downstream.
lint: $(STAMP)
	$(VENV)/bin/ruff check tars_lib tests scripts benchmarks notebooks testsupport
	$(VENV)/bin/ruff format --check tars_lib tests scripts benchmarks notebooks testsupport
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# After editing a notebook: re-run it on the bundled test week, keep only the
# outputs nbval checks (cells marked NBVAL_CHECK_OUTPUT), clear the rest.
notebooks: $(STAMP)
	$(PY) scripts/refresh_notebooks.py

test-phase14_6: test-retro-unit test-retro-smoke

test-retro-unit: $(STAMP)
	$(PY) -m pytest tests/test_retrospective_generator.py -v

test-retro-smoke: $(STAMP)
	bash scripts/test_phase14_6_pipeline.sh

retro-test: $(STAMP)
	$(TARS) retro --ga-data $(TEST_DATA)/ga_kpis --7day-data $(TEST_DATA)/stability \
	  --regression $(TEST_DATA)/regression/regression_summary.json \
	  --anomalies $(TEST_DATA)/anomalies/anomaly_events.json \
	  --output test_output/retrospective.md

clean-test:
	rm -rf test_output
