# Two commands for a fresh clone:  `make demo` runs the main job, `make test` the checks.
# Each creates .venv (Python >= 3.11) on first use; torch is pinned by constraints.txt.
# Issue 17's reproduction studies (docs/reproduction.md): `make reproduce-docs` regenerates the
# page, its figures and numbers from the committed exports (a minute); `make reproduce` reruns
# the studies from their specs (hours on 2 cores; it resumes), exports them, then the page.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint install services clean mutation reproduce reproduce-docs

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

# The reproduction studies of issue 17, in the order of docs/reproduction.md (spec stems).
REPRO_STUDIES ?= mnist1d-mlp-adam mnist1d-mlp-adam-xl mnist1d-cnn mnist1d-mlp-sgd teacher-student charlm mnist1d-mlp-prune
REPRO_DB      ?= reproduction.db
REPRO_WORKERS ?= 2
reproduce: $(STAMP)
	@for s in $(REPRO_STUDIES); do \
	  spec=docs/reproduction/$$s.toml; \
	  name=$$($(BIN)/python -c "import sys, tomllib; print(tomllib.load(open(sys.argv[1], 'rb'))['name'])" $$spec) || exit 1; \
	  OMP_NUM_THREADS=1 $(BIN)/scalinglab run $$spec --storage $(REPRO_DB) --workers $(REPRO_WORKERS) || exit 1; \
	  $(BIN)/scalinglab export $$name --storage $(REPRO_DB) -o docs/reproduction/$$s.json || exit 1; \
	done
	$(MAKE) reproduce-docs

reproduce-docs: $(STAMP)
	$(BIN)/python docs/reproduction/make_page.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
