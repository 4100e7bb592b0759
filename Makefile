# Developer entry points. `make help` lists them. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen --no-sync
PROTO_OUT := libs/protocol

.PHONY: help install proto proto-check openapi fmt lint typecheck test test-unit test-integration bench up migrate services-up browser clean \
	definitions asyncapi k8s-files generated generated-check image compose-up compose-down

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

.venv/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: .venv/.installed ## create .venv with every dependency from uv.lock

proto: install ## regenerate Python code from proto/ (grpcio-tools)
	$(RUN) python -m iot_devstack.protogen $(PROTO_OUT)

proto-check: install ## fail when the generated code in libs/protocol is stale
	$(RUN) python -m iot_devstack.protogen --check $(PROTO_OUT)

openapi: install ## regenerate services/api-gateway/openapi.json from the gateway's routes
	$(RUN) python -m api_gateway.openapi > services/api-gateway/openapi.json

definitions: install ## regenerate the RabbitMQ definitions (compose, k8s) and the k8s broker users from libs/routing
	$(RUN) python -m iot_devstack.definitions --write

asyncapi: install ## regenerate docs/asyncapi.yaml (the message topology) from libs/routing and proto/
	$(RUN) python -m iot_devstack.asyncapi --write

k8s-files: install ## copy dependencies/timescaledb into k8s/base/files (kustomize reads only its own tree)
	$(RUN) python -m iot_devstack.k8s_files --write

generated: proto openapi definitions asyncapi k8s-files ## regenerate every generated file

generated-check: install ## fail when a generated file (definitions, AsyncAPI, k8s copies) is stale
	$(RUN) python -m iot_devstack.definitions --check
	$(RUN) python -m iot_devstack.asyncapi --check
	$(RUN) python -m iot_devstack.k8s_files --check

image: ## build the iot-telemetry container image (needs a Docker engine)
	docker build -t iot-telemetry:$${IOT_IMAGE_TAG:-dev} --build-arg REVISION=$$(git rev-parse HEAD) .

compose-up: ## run the whole platform in containers (Docker with compose; settings in .env)
	docker compose up -d --build

compose-down: ## stop the containers (add -v by hand to delete the data volumes)
	docker compose down

fmt: install ## format the code (ruff)
	$(RUN) ruff format libs services tests
	$(RUN) ruff check --fix libs services tests

lint: install ## lint (ruff)
	$(RUN) ruff check libs services tests
	$(RUN) ruff format --check libs services tests

typecheck: install ## type-check (mypy, strict)
	$(RUN) mypy libs services tests

services-up: ## make sure the local RabbitMQ and PostgreSQL are running
	@bash .ci/services-up

browser: ## make sure Debian's Chromium is installed (the web page's browser test)
	@bash .ci/chromium-up

test-unit: install ## unit tests (no network)
	$(RUN) pytest tests/unit -q

test-integration: install services-up browser ## integration tests (real RabbitMQ and PostgreSQL)
	$(RUN) pytest tests/integration -q

test: install services-up browser lint typecheck proto-check generated-check ## everything CI runs: lint, types, stale-file checks, all tests
	$(RUN) pytest -q

bench: install services-up ## throughput and latency benchmark (prints ratios against baselines)
	$(RUN) python -m tests.bench
	$(RUN) python -m tests.bench.control
	$(RUN) python -m tests.bench.joins

migrate: install services-up ## apply the database migrations to the local database
	$(RUN) iot-db migrate --create-database --login-without-password

up: install services-up ## run the whole system locally: migrations, services, three simulated sensors
	$(RUN) iot-dev up

clean: ## remove the virtual environment and caches
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
