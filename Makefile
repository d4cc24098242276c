# The commands a newcomer types. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format typecheck unit integration acceptance convex-test bench profile \
        reliability example-course up clean claude-cli lock lock-check compose-test

# The Claude Code CLI the worker image pins (Dockerfile.worker), for the real-CLI tests.
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE_TOOLS        := .tools/claude-code
CLAUDE_CLI_STAMP    := $(CLAUDE_TOOLS)/.installed-$(CLAUDE_CODE_VERSION)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Exactly what requirements-dev.lock pins, with its hashes (the runtime pins of
# requirements.lock plus the development tools), then the project itself without
# resolving anything: a fresh clone gets the versions CI got, whatever upstream released.
# The editable install puts the checkout on sys.path (compat mode) rather than behind an
# import hook, so a folder named like one of our packages in the working directory (a
# `store` volume, TEMP_DIR's `fondation` under /tmp) cannot hide the package.
$(STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	$(BIN)/pip check
	touch $(STAMP)

install: $(STAMP)

## demo: analyse a small repository on the embedded defaults and write the course to ./course
demo: $(STAMP)
	$(BIN)/python scripts/make_demo_repo.py .fondation/demo-repo
	ANALYSIS_ENGINE=offline $(BIN)/fondation analyze .fondation/demo-repo --out course
	@echo "Open course/index.md"

## test: lint, types, the Convex functions in convex-test, then unit, integration, acceptance
test: lint typecheck lock-check convex-test claude-cli
	$(BIN)/pytest -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider tests/unit

integration: $(STAMP) claude-cli
	$(BIN)/pytest -p no:cacheprovider tests/integration

acceptance: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider tests/acceptance

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

## claude-cli: the pinned Claude Code CLI in .tools/ (a no-op once that version is there)
$(CLAUDE_CLI_STAMP):
	rm -rf $(CLAUDE_TOOLS) && mkdir -p $(CLAUDE_TOOLS)
	npm install --prefix $(CLAUDE_TOOLS) --no-save --no-audit --no-fund --loglevel=error \
	    "@anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)"
	$(CLAUDE_TOOLS)/node_modules/.bin/claude --version | grep -q '^$(CLAUDE_CODE_VERSION) '
	touch $@

claude-cli: $(CLAUDE_CLI_STAMP)

convex/node_modules/.package-lock.json: convex/package-lock.json
	cd convex && npm ci --no-audit --no-fund --loglevel=error

convex/compat-1.26/node_modules/.package-lock.json: convex/compat-1.26/package-lock.json
	cd convex/compat-1.26 && npm ci --no-audit --no-fund --loglevel=error

## convex-test: the functions in convex-test, and typechecked with the web app's convex 1.26.2
convex-test: convex/node_modules/.package-lock.json convex/compat-1.26/node_modules/.package-lock.json
	cd convex && npx tsc --noEmit -p . && npx vitest run
	node convex/compat-1.26/check.mjs

## bench: benchmarks, results in docs/BENCHMARKS.md
bench: $(STAMP) claude-cli
	$(BIN)/python -m bench

## profile: where a job's CPU goes, by process and by function (py-spy)
profile: $(STAMP)
	$(BIN)/python -m bench.profile

## reliability: the fault scenarios N times (RUNS=20), results in docs/RELIABILITY.md
reliability: $(STAMP)
	$(BIN)/python -m tests.reliability --runs $${RUNS:-20} --parallel $${PARALLEL:-3}

## example-course: regenerate docs/example-course/ from this repository itself
example-course: $(STAMP)
	rm -rf docs/example-course
	$(BIN)/fondation analyze . --out docs/example-course

## lock: update the pins deliberately, from pyproject.toml: requirements.lock (what the
## images install) and requirements-dev.lock (that plus the development tools, what
## `make demo` and `make test` install). The dev lock is constrained by the runtime lock, so
## both pin the same runtime versions. Existing pins are kept unless a dependency needs
## another; `make lock UPGRADE=1` moves everything to the newest releases.
LOCK_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: $(STAMP)
	$(LOCK_COMPILE) -o requirements.lock
	$(LOCK_COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock

## lock-check: both locks still follow pyproject.toml (their pins are kept, so a new release
## upstream does not make them stale; a changed dependency does)
lock-check: $(STAMP)
	@tmp=$$(mktemp -d) && cp requirements.lock $$tmp/run.lock \
	&& cp requirements-dev.lock $$tmp/dev.lock && $(LOCK_COMPILE) -o $$tmp/run.lock \
	&& $(LOCK_COMPILE) --extra dev -c $$tmp/run.lock -o $$tmp/dev.lock \
	&& sed -i "s|-c $$tmp/run.lock|-c requirements.lock|" $$tmp/dev.lock \
	&& if diff -u requirements.lock $$tmp/run.lock && diff -u requirements-dev.lock $$tmp/dev.lock; \
	then rm -rf $$tmp; else rm -rf $$tmp; echo "a lock is stale: run make lock"; exit 1; fi

## compose-test: the container tier: both images built with podman, the compose stack run
## (installs podman when missing; needs root). Phase times in .fondation/compose-test.json
compose-test: $(STAMP)
	FONDATION_CONTAINER_TIER=1 $(BIN)/pytest -p no:cacheprovider tests/containers

up: $(STAMP)
	$(BIN)/fondation up

clean:
	rm -rf .fondation course .pytest_cache .mypy_cache .ruff_cache
