# The two commands the README promises: `make serve` and `make test`. Each installs what it needs.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
JS_STAMP := tests/js/node_modules/.installed
DASHBOARD_STAMP := tests/dashboard/node_modules/.installed

.PHONY: serve test lint install system

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

# Parse Dashboard, pinned, for tests/browser/test_dashboard.py.
$(DASHBOARD_STAMP): tests/dashboard/package.json tests/dashboard/package-lock.json
	cd tests/dashboard && npm ci --no-audit --no-fund --loglevel=error
	touch $(DASHBOARD_STAMP)

system:
	./.ci/system-packages.sh

install: system $(STAMP) $(JS_STAMP) $(DASHBOARD_STAMP)

serve: $(STAMP)
	PARSE_SERVER_CLOUD="$${PARSE_SERVER_CLOUD:-hooks}" $(VENV)/bin/sleeplab serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Two pytest processes per run (pytest-xdist, whole files per process): most tests wait on servers, browsers and
# databases they start, so two lanes keep both cores busy and the suite well inside CI's time.
PYTEST_LANES ?= -n 2 --dist loadfile

test: install lint
	$(VENV)/bin/pytest $(PYTEST_LANES)
	# The API suites again on the MongoDB adapter (mongomock-motor), so both stores serve the same contract.
	TEST_STORE=mongo $(VENV)/bin/pytest -q $(PYTEST_LANES) tests/http tests/security tests/cloud
	# And on PostgreSQL in Parse Server's layout (a throw-away cluster the run starts itself; skipped without postgresql).
	TEST_STORE=postgres $(VENV)/bin/pytest -q $(PYTEST_LANES) tests/http tests/security tests/cloud
