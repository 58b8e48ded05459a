# Two commands do everything on a fresh clone:
#   make run    install what is missing, start the embedded PostgreSQL, run the demo end to end
#   make test   install what is missing, run the test suite (real PostgreSQL, dbt, GX, Airflow)
PYTHON ?= python3
# make test runs the suite in this many pytest-xdist workers (auto: one per CPU; 1 for a serial run)
TEST_WORKERS ?= auto
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP  := $(VENV)/.installed

.PHONY: install browser run lint test bench lock clean db-stop help

help:
	@echo "make run | make test | make lint | make bench | make lock | make db-stop | make clean"

# The venv is (re)synchronised with requirements.lock whenever the lock or pyproject changes.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) browser

# Headless Chromium prints the bulletin to PDF and renders it in tests/test_bulletin.py: Debian's
# package, installed when missing (a warning, not a failure, if it cannot be: no PDF, test skipped).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (the bulletin's PDF and its browser test) ..."; \
	  { $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }; } || \
	  echo "WARNING: could not install chromium: no bulletin PDF, and the bulletin's browser test is skipped"; }

run: $(STAMP) browser
	$(BIN)/cchc demo

# The linters, with the committed configuration (ruff: [tool.ruff] in pyproject.toml; sqlfluff:
# .sqlfluff and .sqlfluffignore): a finding fails make test. Neither needs a database.
lint: $(STAMP)
	$(BIN)/ruff check plugins dags tests benchmarks lint
	$(BIN)/sqlfluff lint --processes 0 dbt_project

test: $(STAMP) browser lint
	$(BIN)/pytest -q -p no:cacheprovider --durations=25 -n $(TEST_WORKERS) --dist loadfile

# Writes bench/results.md and bench/results.json (figures beside the issue's targets); about 20 min.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--sizes 50000,100000"
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Re-resolve the pins after editing requirements.in.
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes requirements.in -o requirements.lock

db-stop: $(STAMP)
	$(BIN)/cchc db-stop

clean:
	-$(BIN)/cchc db-stop
	rm -rf .cchc $(VENV)
