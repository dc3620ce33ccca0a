# socialcrm — the targets a newcomer can guess. Every target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
PORT ?= 3000
# The stage to synthesise or deploy (dev, staging, prod…): stacks socialcrm-$(STAGE)-data and -service.
STAGE ?= dev
# `make deploy REQUIRE_APPROVAL=never` for a pipeline; by default IAM and security changes are shown first.
REQUIRE_APPROVAL ?= broadening
CDK := npx --no-install cdk --no-notices
# More context for the CDK app, e.g. CDK_ARGS="-c alarm_email=oncall@example.com".
CDK_ARGS ?=
STAGE_CONTEXT := -c stage=$(STAGE) $(CDK_ARGS)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 1

.PHONY: install test lint synth local demo bench mutation bootstrap diff deploy destroy layer schemas clean

install: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# The end-to-end suite runs the local stack in its own process: it sets the process environment
# (endpoints, table names) the way `make local` does, which the other suites must not inherit.
test: install
	$(PY) -m ruff check functions infra tests bench
	$(PY) -m ruff format --check functions infra tests bench
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --dist loadfile tests/unit tests/integration tests/infra --doctest-modules functions/socialcrm
	$(PY) -m pytest tests/e2e

lint: install
	$(PY) -m ruff check functions infra tests bench
	$(PY) -m ruff format --check functions infra tests bench
	$(PY) -m mypy

schemas: install
	$(PY) -m socialcrm.schemas --write

layer: install
	$(PY) layers/build.py

synth: install layer
	$(CDK) synth --quiet $(STAGE_CONTEXT)

local: install
	$(PY) -m socialcrm.local --port $(PORT)

demo: install
	$(PY) -m socialcrm.local.demo --port $(PORT)

bench: install
	$(PY) bench/run.py

# Mutation testing of the webhook, ingest, duplicate-check and erasure modules (not part of `test` or CI):
# scores into bench/results.json; `$(PY) bench/mutation.py socialcrm.ingest.service` runs one module.
mutation: install
	$(PY) bench/mutation.py

# Once per account and region, before the first deploy.
bootstrap: install
	$(CDK) bootstrap

diff: install layer
	$(CDK) diff --all $(STAGE_CONTEXT)

deploy: install layer
	$(CDK) deploy --all $(STAGE_CONTEXT) --require-approval $(REQUIRE_APPROVAL)

# Deletes the stage's functions, queues and API; its data stack is termination-protected and its tables
# are retained (remove them by hand, after exporting what must be kept).
destroy: install layer
	$(CDK) destroy socialcrm-$(STAGE)-service $(STAGE_CONTEXT)

clean:
	rm -rf cdk.out layers/build .pytest_cache
