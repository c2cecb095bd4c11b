# perflab — every target creates .venv and installs what it needs when missing (via `setup`).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
INVOCATIONS ?= 100
ARTIFACT_BYTES ?= 24800000
BENCH_ARGS = --invocations $(INVOCATIONS) --artifact-bytes $(ARTIFACT_BYTES)

.PHONY: help setup setup-browser lint fmt typecheck test test-unit test-functional test-local bench bench-lambda-s3 bench-lambda-rds bench-ecs-s3 bench-ecs-rds bench-local-cloud inspect report local-up local-down clean

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: perflab needs Python 3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install perflab with its pinned dependencies

setup-browser: ## install Debian's chromium (the dashboard's browser test; needs root or sudo)
	@command -v chromium >/dev/null && { chromium --version 2>/dev/null; exit 0; }; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	  || { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; \
	chromium --version 2>/dev/null

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict on perflab/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP) ## format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) ## every test layer that runs on this machine (unit, functional, local cloud)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## pure tests, no network
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-functional: $(STAMP) ## in-process moto tests
	$(BIN)/pytest tests/functional $(PYTEST_ARGS)

test-local: $(STAMP) ## tests on the local cloud (moto server, worker processes, PostgreSQL)
	$(BIN)/pytest tests/local $(PYTEST_ARGS)

bench: $(STAMP) ## all four configurations x 100 x 24.8 MB on the local cloud -> reports/latest/
	$(BIN)/perflab bench $(BENCH_ARGS) --out reports/latest

bench-lambda-s3: $(STAMP) ## one configuration (INVOCATIONS=, ARTIFACT_BYTES= override)
	$(BIN)/perflab bench --compute lambda --storage s3 $(BENCH_ARGS) --out reports/lambda-s3

bench-lambda-rds: $(STAMP) ## one configuration
	$(BIN)/perflab bench --compute lambda --storage rds $(BENCH_ARGS) --out reports/lambda-rds

bench-ecs-s3: $(STAMP) ## one configuration
	$(BIN)/perflab bench --compute ecs --storage s3 $(BENCH_ARGS) --out reports/ecs-s3

bench-ecs-rds: $(STAMP) ## one configuration
	$(BIN)/perflab bench --compute ecs --storage rds $(BENCH_ARGS) --out reports/ecs-rds

bench-local-cloud: $(STAMP) ## 100-way Lambda and ECS fan-out of a trivial handler on the local cloud
	$(BIN)/perflab smoke --invocations 100 --out reports/local-cloud/smoke.json

inspect: $(STAMP) ## a run's execution, map run, slowest and failed invocations (RUN=run id or execution ARN)
	@test -n "$(RUN)" || { echo "usage: make inspect RUN=<run id or execution ARN>" >&2; exit 2; }
	$(BIN)/perflab inspect "$(RUN)"

report: $(STAMP) ## rebuild report.md and plots of reports/latest (RESULTS= other result dirs)
	$(BIN)/perflab report $(or $(RESULTS),reports/latest)

local-up: $(STAMP) ## start the local cloud in the background (port 4566)
	$(BIN)/perflab local up --detach

local-down: $(STAMP) ## stop the background local cloud
	$(BIN)/perflab local down

# --- infra (Terraform, offline) --------------------------------------------------------------------------
.PHONY: infra-check infra-fmt

infra-check: $(STAMP) ## offline Terraform checks: fmt, validate, test, plan + terraform-compliance, checkov, ASL validators
	$(BIN)/python infra/check.py

infra-fmt: ## terraform fmt -recursive infra/
	TF_CLI_CONFIG_FILE=infra/terraform.rc terraform fmt -recursive infra
# --- end infra ------------------------------------------------------------------------------------------

clean: ## remove build output and caches (keeps .venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
