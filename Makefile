# slaflow: `make run` runs the product, `make test` runs every check. Both work on a fresh clone
# and install exactly the versions locked in requirements/ (`make lock` writes them; README:
# "Updating dependencies").
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# run.txt: slaflow's dependencies with the postgres, s3 and otel extras (the product; the Dockerfile).
# test.txt: those, the same versions, plus the test extra (`make test`, CI).
RUN_LOCK := requirements/run.txt
TEST_LOCK := requirements/test.txt
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

# The lock tool, pinned, in its own venv so it never shows up in the product's.
UV_VERSION := 0.13.8
UV := $(VENV)/.lock-tool/bin/uv
# Extra arguments for `make lock`: LOCK_ARGS=--upgrade, or LOCK_ARGS="-P fastapi -P uvicorn".
LOCK_ARGS ?=
COMPILE := $(UV) pip compile pyproject.toml --quiet --generate-hashes --group bootstrap \
	--python-version 3.11 --python-platform linux --custom-compile-command "make lock"

.PHONY: run test lint typecheck unit replay bench lock clean

# Hash-checked install of a lock (it pins pip and setuptools too), then slaflow itself, editable,
# with no dependencies of its own and built by the locked setuptools; `pip check` fails on a lock
# that no longer satisfies pyproject.toml's base dependencies.
define install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(1)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@
endef

$(RUN_STAMP): $(RUN_LOCK) pyproject.toml
	$(call install,$(RUN_LOCK))

$(TEST_STAMP): $(TEST_LOCK) pyproject.toml
	$(call install,$(TEST_LOCK))

run: $(RUN_STAMP)
	$(BIN)/slaflow up

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# Everything but tests/e2e (the running product over HTTP).
unit: $(TEST_STAMP)
	$(BIN)/pytest -q --ignore=tests/e2e

# The saved histories against today's workflow code.
replay: $(TEST_STAMP)
	$(BIN)/slaflow replay tests/histories/*.json

test: lint typecheck replay
	$(BIN)/pytest -q

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

$(UV):
	$(PYTHON) -m venv $(VENV)/.lock-tool
	$(VENV)/.lock-tool/bin/python -m pip install --quiet uv==$(UV_VERSION)

# Re-resolve pyproject.toml into both locks, keeping every pin that still fits (LOCK_ARGS to
# upgrade). run.txt is constrained by test.txt, so the two never disagree on a version.
lock: $(UV)
	$(COMPILE) --extra postgres --extra s3 --extra otel --extra test $(LOCK_ARGS) -o $(TEST_LOCK)
	$(COMPILE) --extra postgres --extra s3 --extra otel -c $(TEST_LOCK) -o $(RUN_LOCK)

clean:
	rm -rf $(VENV) .slaflow .pytest_cache .mypy_cache .ruff_cache
