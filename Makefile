# Two commands for a fresh clone:  `make demo` runs the main job, `make test` the checks.
# Each creates .venv (Python >= 3.11) on first use; torch is pinned by constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint install services clean mutation

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/scalinglab demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/scalinglab
	$(BIN)/lint-imports

# Test services: Debian's chromium (browser test of the report) and PostgreSQL (the storage
# conformance suite; the fixtures start and stop their own server). Installed when missing and
# this user can install packages; the tests that need them skip with the reason otherwise.
APT_INSTALL = [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
services:
	@command -v chromium >/dev/null 2>&1 || { $(APT_INSTALL) chromium >/dev/null \
	  || echo "note: chromium could not be installed; the browser tests will skip"; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
	  || { $(APT_INSTALL) postgresql >/dev/null || echo "note: PostgreSQL could not be installed; its tests will skip"; }

# Under CI (CI=true) the PostgreSQL tests must run: a missing server fails them instead of skipping.
test: lint services
	SCALINGLAB_REQUIRE_POSTGRES=$${CI:+1} $(BIN)/python -m pytest -q -n 2 --dist loadfile

# Mutation testing (not part of `make test`; tens of minutes per module): every module listed in
# pyproject's [tool.scalinglab.mutation], or some with MODULES="laws report". Results: docs/testing.md.
MODULES ?=
mutation: $(STAMP)
	OMP_NUM_THREADS=1 nice -n 10 $(BIN)/python benchmarks/mutation.py $(MODULES)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
