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

.PHONY: help setup setup-browser lint fmt typecheck test test-unit test-functional test-local test-faults audit bench bench-lambda-s3 bench-lambda-rds bench-ecs-s3 bench-ecs-rds bench-local-cloud inspect report local-up local-down clean

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

# pytest's testpaths is tests/: every layer below it runs, tests/faults included.
test: $(STAMP) ## every test layer that runs on this machine (unit, functional, local cloud, faults)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## pure tests, no network
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-functional: $(STAMP) ## in-process moto tests
	$(BIN)/pytest tests/functional $(PYTEST_ARGS)

test-local: $(STAMP) ## tests on the local cloud (moto server, worker processes, PostgreSQL)
	$(BIN)/pytest tests/local $(PYTEST_ARGS)

test-faults: $(STAMP) ## fault injection and restarts on the local cloud (every invocation accounted for)
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

audit: $(STAMP) ## pip-audit of the pinned dependencies; says if it ran online, incomplete or offline (.ci/audit.py)
	$(BIN)/python .ci/audit.py

# The performance report follows the result even when invocations failed (exit 1), never after exit 2.
bench: $(STAMP) ## all four configurations x 100 x 24.8 MB on the local cloud -> reports/latest/ and reports/PERFORMANCE_REPORT.md
	$(BIN)/perflab bench $(BENCH_ARGS) --out reports/latest; rc=$$?; \
	  if [ $$rc -le 1 ]; then $(BIN)/perflab report reports/latest --performance reports/PERFORMANCE_REPORT.md || exit $$?; fi; \
	  exit $$rc

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

PERF_ARGS ?=

.PHONY: bench-perf perf-tools profile-perf
perf-tools: ## install the loopback reference's nginx and wrk from Debian (best effort: perf falls back to aiohttp + socket)
	@if command -v wrk >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; }; then exit 0; fi; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	export DEBIAN_FRONTEND=noninteractive; \
	{ $$SUDO apt-get install -y -qq --no-install-recommends nginx wrk >/dev/null 2>&1 \
	  || { $$SUDO apt-get update -qq >/dev/null 2>&1 && $$SUDO apt-get install -y -qq --no-install-recommends nginx wrk >/dev/null 2>&1; }; } \
	  || echo "perf-tools: nginx/wrk not installable here: the reference uses aiohttp + the socket client (perf.json says which)" >&2

bench-perf: $(STAMP) perf-tools ## perflab's own performance vs the loopback limit -> reports/perf/ (PERF_ARGS=--quick etc.)
	$(BIN)/perflab perf --out reports/perf $(PERF_ARGS)

profile-perf: $(STAMP) perf-tools ## where the CPU goes at 100-way: CPU budgets + py-spy profiles -> reports/perf/profile/
	$(BIN)/perflab perf --profile --out reports/perf/profile --concurrency 100 \
	  --scaling-invocations '' --scaling-artifact-bytes '' $(PERF_ARGS)

inspect: $(STAMP) ## a run's execution, map run, slowest and failed invocations (RUN=run id or execution ARN)
	@test -n "$(RUN)" || { echo "usage: make inspect RUN=<run id or execution ARN>" >&2; exit 2; }
	$(BIN)/perflab inspect "$(RUN)"

report: $(STAMP) ## rebuild report.md and plots of reports/latest (RESULTS= other result dirs)
	$(BIN)/perflab report $(or $(RESULTS),reports/latest)

local-up: $(STAMP) ## start the local cloud in the background (port 4566)
	$(BIN)/perflab local up --detach

local-down: $(STAMP) ## stop the background local cloud
	$(BIN)/perflab local down

# --- AWS: package, deploy, bench, destroy (README "Deploy to AWS") -----------------------------------
# `make package` builds every artifact; Terraform takes them as inputs (build/package/
# package.auto.tfvars.json) and builds nothing. ARCH=arm64 for arm64 wheels and image, TF_DIR for
# another environment, TF_ARGS for extra terraform arguments (e.g. TF_ARGS=-auto-approve, or
# TF_ARGS='-var region=eu-west-1'), TASK_IMAGE=<image ref> to run your own image instead of pushing one.
ARCH ?= x86_64
PACKAGE_DIR := build/package
TFVARS := $(PACKAGE_DIR)/package.auto.tfvars.json
TF_DIR ?= infra/envs/dev
TF_ARGS ?=
TERRAFORM ?= terraform
AWS_REGION ?= $(or $(AWS_DEFAULT_REGION),us-east-1)
TASK_IMAGE ?=
DOCKER_PLATFORM = $(if $(filter arm64,$(ARCH)),linux/arm64,linux/amd64)
TF_VARS = -var-file=$(abspath $(TFVARS)) $(if $(TASK_IMAGE),-var task_image=$(TASK_IMAGE))
.PHONY: package aws-preflight deploy push-task-image bench-aws destroy

package: $(STAMP) ## Lambda zips, ECS image context, manifest.json, tfvars -> build/package/ (ARCH=x86_64|arm64)
	$(BIN)/perflab package --arch $(ARCH) --out $(PACKAGE_DIR)

aws-preflight: $(STAMP) ## check terraform and AWS credentials before deploy, bench-aws, destroy
	@test -z "$$AWS_ENDPOINT_URL" || { echo "AWS_ENDPOINT_URL is set ($$AWS_ENDPOINT_URL, a perflab local cloud?): unset it to reach AWS" >&2; exit 1; }
	@command -v $(TERRAFORM) >/dev/null || { echo "terraform not found: install Terraform >= 1.11 (README: Deploy to AWS)" >&2; exit 1; }
	@$(BIN)/python -c 'import boto3; print("AWS account", boto3.client("sts", region_name="$(AWS_REGION)").get_caller_identity()["Account"])' 2>/dev/null \
	  || { echo "no usable AWS credentials (sts:GetCallerIdentity failed): configure a profile (AWS_PROFILE), SSO or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" >&2; exit 1; }

deploy: aws-preflight package ## make package, terraform init + apply of infra/envs/dev, then build and push the task image
	$(TERRAFORM) -chdir=$(TF_DIR) init -input=false
	$(TERRAFORM) -chdir=$(TF_DIR) apply -input=false $(TF_VARS) $(TF_ARGS)
	@$(if $(TASK_IMAGE),echo "task image: $(TASK_IMAGE) (TASK_IMAGE, not pushed by make)",$(MAKE) --no-print-directory push-task-image)
	@echo "deployed: seed the artifact once, then make bench-aws (README: Deploy to AWS)"

push-task-image: ## docker build build/package/ecs_task and push it to the ECR repository make deploy created
	@repo=$$($(TERRAFORM) -chdir=$(TF_DIR) output -raw ecr_repository_url) || exit 1; \
	region=$$($(TERRAFORM) -chdir=$(TF_DIR) output -raw region 2>/dev/null || echo $(AWS_REGION)); \
	tag=$$($(BIN)/python -c 'import json; print(json.load(open("$(TFVARS)"))["task_image_tag"])') || exit 1; \
	if ! command -v docker >/dev/null || ! command -v aws >/dev/null; then \
	  echo "docker or the aws CLI is missing: build and push the task image yourself (ECS tasks cannot start until then):" >&2; \
	  echo "  docker build --platform $(DOCKER_PLATFORM) -t $$repo:$$tag $(PACKAGE_DIR)/ecs_task" >&2; \
	  echo "  aws ecr get-login-password --region $$region | docker login --username AWS --password-stdin $${repo%%/*}" >&2; \
	  echo "  docker push $$repo:$$tag" >&2; \
	  exit 0; \
	fi; \
	set -e; \
	aws ecr get-login-password --region $$region | docker login --username AWS --password-stdin $${repo%%/*}; \
	docker build --platform $(DOCKER_PLATFORM) -t $$repo:$$tag $(PACKAGE_DIR)/ecs_task; \
	docker push $$repo:$$tag

bench-aws: $(STAMP) ## the bench against the deployed API (PERFLAB_API_URL, else terraform's api_url) -> reports/aws/
	@url="$${PERFLAB_API_URL:-}"; \
	if [ -z "$$url" ]; then \
	  $(MAKE) --no-print-directory aws-preflight || exit 1; \
	  url=$$($(TERRAFORM) -chdir=$(TF_DIR) output -raw api_url) \
	    || { echo "no API URL: run make deploy, or set PERFLAB_API_URL" >&2; exit 1; }; \
	fi; \
	auth="$${PERFLAB_API_AUTH:-iam}"; \
	echo "API: $$url (auth: $$auth; iam signs with your AWS credentials, token sends PERFLAB_API_TOKEN, e.g. a JWT)"; \
	PERFLAB_API_AUTH="$$auth" $(BIN)/perflab bench --api-url "$$url" $(BENCH_ARGS) --out reports/aws

destroy: aws-preflight ## terraform destroy of everything make deploy created (bucket and images included)
	@test -f $(TFVARS) || $(MAKE) --no-print-directory package
	$(TERRAFORM) -chdir=$(TF_DIR) destroy -input=false $(TF_VARS) $(TF_ARGS)

# --- infra (Terraform, offline) --------------------------------------------------------------------------
.PHONY: infra-check infra-fmt

infra-check: $(STAMP) ## offline Terraform checks: fmt, validate, test, plan + terraform-compliance, checkov, ASL validators
	$(BIN)/python infra/check.py

infra-fmt: ## terraform fmt -recursive infra/
	TF_CLI_CONFIG_FILE=infra/terraform.rc terraform fmt -recursive infra
# --- end infra ------------------------------------------------------------------------------------------

clean: ## remove build output and caches (keeps .venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
