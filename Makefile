# T.A.R.S. Phase 14.6. `make demo` and `make test` do all the set-up on a fresh machine:
# they create .venv and install the project into it when it is missing or stale.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TARS := $(VENV)/bin/tars
STAMP := $(VENV)/.installed-stamp
TEST_DATA := data/test_data

.PHONY: setup demo test lint test-phase14_6 test-retro-unit test-retro-smoke retro-test clean-test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "T.A.R.S. needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(TARS) retro --ga-data $(TEST_DATA)/ga_kpis --7day-data $(TEST_DATA)/stability \
	  --regression $(TEST_DATA)/regression/regression_summary.json \
	  --anomalies $(TEST_DATA)/anomalies/anomaly_events.json \
	  --output docs/final/GA_7DAY_RETROSPECTIVE.md
	@echo "Retrospective: docs/final/GA_7DAY_RETROSPECTIVE.md (and .json beside it)"

test: $(STAMP)
	$(PY) -m pytest
	bash scripts/test_phase14_6_pipeline.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check tars_lib tests scripts
	$(VENV)/bin/ruff format --check tars_lib tests scripts
	$(VENV)/bin/mypy

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
