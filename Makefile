# nexus-platform: the two commands a new user needs are `make up` and `make test` (see README).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
STACK ?= dev
# Every target that runs pulumi or helm sources this: pinned tools first on PATH, local backend default.
PULUMI_ENV := source scripts/pulumi-env.sh

.PHONY: help venv toolchain lint test test-unit test-render test-engine test-cluster test-dataplane dataplane-servers chart-docs up down cluster-up cluster-down bench clean drift rotate backup-now backup-list restore

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	@echo "==> Python virtualenv ($(VENV)) from requirements.txt"
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.installed ## Create the virtualenv with the pinned Python dependencies

toolchain: venv ## Build or find the pinned pulumi CLI, language host, plugins, helm, the chart-docs generator and the local cluster's binaries (into .tools/)
	@bash scripts/toolchain.sh
	@bash scripts/chart-docs.sh install
	@bash scripts/local-cluster.sh build

dataplane-servers: ## Install the real servers the data-plane tier runs our pods' programs against (Debian packages, Maven jars)
	@bash scripts/dataplane-servers.sh install

chart-docs: venv toolchain ## Regenerate each chart's README parameter table and values.schema.json from their one source
	@bash scripts/chart-docs.sh generate
	@$(PYTHON) scripts/chart_schemas.py generate

lint: venv ## ruff lint and format check
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

test: venv toolchain dataplane-servers lint ## Everything: lint, unit, chart render, engine, cluster (a cluster of its own) and data-plane tiers
	@$(PULUMI_ENV) && $(PYTHON) -m pytest

test-unit: venv ## Config validation and components under Pulumi mocks
	@$(PYTHON) -m pytest -m unit

test-render: venv toolchain ## Real helm lint/template of our charts, validated against Kubernetes schemas
	@$(PULUMI_ENV) && $(PYTHON) -m pytest -m render

test-engine: venv toolchain ## The real Pulumi engine on throwaway local stacks
	@$(PULUMI_ENV) && $(PYTHON) -m pytest -m engine

test-cluster: venv toolchain ## pulumi up against the local API server
	@$(PULUMI_ENV) && $(PYTHON) -m pytest -m cluster

test-dataplane: venv toolchain dataplane-servers ## The programs inside our pods, run against real servers on loopback
	@$(PULUMI_ENV) && $(PYTHON) -m pytest -m dataplane

cluster-up: venv ## Start the local Kubernetes control plane on 127.0.0.1
	@bash scripts/local-cluster.sh start

cluster-down: venv ## Stop the local control plane
	@bash scripts/local-cluster.sh stop

up: venv toolchain ## Deploy STACK (default dev); starts the local control plane when no kubeconfig is configured
	@$(PULUMI_ENV) && bash scripts/up.sh $(STACK)

down: venv toolchain ## Destroy STACK and stop the local control plane; offers a final backup first (DOWN_ARGS=--backup-first|--no-backup)
	@$(PULUMI_ENV) && bash scripts/down.sh $(STACK) $(DOWN_ARGS)

backup-now: venv ## Back up COMPONENT (e.g. product-postgres; default: all) of STACK now: a Job from its CronJob, waited for
	@$(PYTHON) -m backups backup-now $(or $(COMPONENT),--all) --stack $(STACK)

backup-list: venv ## List the verified backups of COMPONENT in STACK's bucket, with time and size
	@$(PYTHON) -m backups list $(COMPONENT) --stack $(STACK)

restore: venv ## Restore COMPONENT of STACK from its backup of DATE (YYYY-MM-DD) or to TO_TIME (YYYY-MM-DDTHH:MM:SSZ); asks first (RESTORE_ARGS=--force, --into HOST, --source offsite, ...)
	@$(PYTHON) -m backups restore $(COMPONENT) $(if $(DATE),--backup-date $(DATE)) $(if $(TO_TIME),--to-time $(TO_TIME)) --stack $(STACK) $(RESTORE_ARGS)

rotate: venv ## Rotate CREDENTIALS (credential ids, or all) of STACK: one generation up in Pulumi.<STACK>.yaml; `make up` applies it
	@$(PYTHON) -m platform_config rotate $(STACK) $(or $(CREDENTIALS),$(error set CREDENTIALS: ids from `python -m platform_config credentials $(STACK)`, or all)) --write

drift: venv toolchain ## Compare STACK's cluster with its state (pulumi refresh --preview-only), report what drifted; exit 1 on drift
	@source scripts/local-cluster/target.sh && $(PYTHON) -m tooling.drift "$$(nexus_deploy_stack $(STACK))" $(DRIFT_ARGS)

bench: venv toolchain ## Measure previews, scaling, provisioning and deploys side by side with Helm and Helmfile; writes docs/benchmarks*.md and .png
	@$(PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	@bash scripts/toolchain.sh helmfile
	@$(PULUMI_ENV) && $(PYTHON) -m bench.deploy $(BENCH_DEPLOY_ARGS)
	@$(PULUMI_ENV) && $(PYTHON) -m bench.profile
	@$(PULUMI_ENV) && $(PYTHON) -m bench.run $(BENCH_ARGS)

clean: ## Remove local state and the local clusters (keeps .tools); refuses while a local stack has resources
	@bash scripts/local-cluster.sh clean
