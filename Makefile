# One entry point for everything. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
UV := .tools/bin/uv
PY := .venv/bin/python
RUN := .venv/bin
PACKAGES := calsync_contracts calsync_invitations sync_core sync_store sync_runtime calsync_platform calsync_localinfra crm_api sync_caldav sync_google sync_exchange notifier

.PHONY: help env lock lint format typecheck test browser test-unit run token schemas bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

env: ## Create/refresh .venv from requirements.lock (installs uv privately if needed)
	@scripts/bootstrap.sh

lock: ## Re-resolve dependencies and rewrite requirements.lock
	@[ -x $(UV) ] || scripts/bootstrap.sh
	$(UV) lock --python python3
	$(UV) export --frozen --all-packages --all-groups --no-emit-project --quiet > requirements.lock

lint: env ## ruff lint + format check
	$(RUN)/ruff check .
	$(RUN)/ruff format --check .

format: env ## Apply ruff fixes and formatting
	$(RUN)/ruff check --fix .
	$(RUN)/ruff format .

typecheck: env ## Strict mypy on libs and services
	$(RUN)/mypy $(foreach p,$(PACKAGES),-p $(p))

test: env lint typecheck browser ## THE test command: lint, types, then every test (starts its own servers)
	$(RUN)/pytest

browser: ## Debian's chromium for the browser tests (installed once)
	@scripts/ensure_chromium.sh

test-unit: env ## Tests that need no servers
	$(RUN)/pytest -m "not integration and not e2e"

run: env ## Run the whole system locally (PostgreSQL, Kafka-protocol broker, every service); Ctrl-C stops it
	$(PY) scripts/run_stack.py

token: env ## Mint a dev bearer token: make token TENANT=<uuid> USER_ID=<uuid> [ADMIN=1]
	$(PY) -m crm_api.devtoken --tenant "$(TENANT)" --user "$(USER_ID)" $(if $(ADMIN),--admin,)

schemas: env ## Regenerate the committed JSON Schemas and AsyncAPI documents
	$(PY) -m calsync_contracts.schema_export libs/contracts/schemas
	$(PY) scripts/export_asyncapi.py docs/asyncapi

bench: env ## Run the benchmarks (they print figures)
	$(PY) -m bench.outbox
	$(PY) -m bench.caldav_sync
	$(PY) -m bench.caldav_latency
	$(PY) -m bench.google_sync
	$(PY) -m bench.graph_sync
	$(PY) -m bench.ews_sync
	$(PY) -m bench.invitations
	$(PY) -m bench.calendar_reads

clean: ## Remove environments and caches
	rm -rf .venv .tools .var .mypy_cache .ruff_cache .pytest_cache
