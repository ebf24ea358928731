# EngiPay backend. Two commands matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell python3 -c 'import sys; print(sys.executable)')
UV_VERSION := 0.13.8
# uv lives in its own small venv, so nothing is installed into the system Python (PEP 668 safe).
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# SANDBOX=1: also run local Starknet and Esplora test doubles (play money, labelled "sandbox" in /api/health/).
SANDBOX ?=
ifeq ($(SANDBOX),1)
export CHAIN_SANDBOX := 1
endif
ANVIL_PORT ?= 8545
export ANVIL_PORT
export EVM_LOCAL_RPC_URL ?= http://127.0.0.1:$(ANVIL_PORT)
ANVIL := node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)

.PHONY: help install chromium run test lint bench clean

help:
	@echo "make run   - install what is missing, migrate, load demo data, start web + worker + beat + local chain"
	@echo "make test  - install what is missing and run the whole test suite"
	@echo "make lint  - ruff, import contracts, Django checks, migrations and OpenAPI schema checks"

# --- installation (pinned: uv.lock and package-lock.json) ---------------------------------------------------
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed

# The browser tests drive Debian's Chromium with Playwright (Playwright's own download needs the internet).
chromium:
	@if [ -z "$$CHROMIUM_PATH" ] && ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing and cannot be installed here (needs root and apt-get):"; \
			echo "  install Debian's chromium package or set CHROMIUM_PATH; the browser tests fail without it."; \
		fi; \
	fi

# --- run the platform ---------------------------------------------------------------------------------------
# A development webhook sender "dev" (secret in var/webhook_dev_secret; `manage.py webhook_sign` signs payloads).
run: export WEBHOOK_DEV_SOURCE = 1
# The escrow dispute resolver of the local chain: anvil's dev account #9 (its key is public: development only).
run: export ESCROW_RESOLVER_ADDRESS ?= 0xa0Ee7A142d267C1f36714E4a8F75612F20a79720
run: install
	@$(PY) -c "import socket,sys; ports=[$(PORT), $(ANVIL_PORT)]; busy=[p for p in ports if socket.socket().connect_ex(('127.0.0.1', p)) == 0]; sys.exit(f'Port(s) {busy} already in use: stop what runs there, or set PORT / ANVIL_PORT.' if busy else 0)"
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_data
	$(PY) manage.py help_load_demo
	$(PY) manage.py support_load_demo
	$(PY) manage.py kyc_load_demo
	@echo ""
	@echo "  API docs:  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  Admin:     http://127.0.0.1:$(PORT)/admin/  (admin@engipay.local / $$(cat var/demo-admin-password))"
	@echo "             help editor: editor@engipay.local, same password (sees only the help center)"
	@echo "             support agent: agent@engipay.local, same password (tickets, macros, chats)"
	@echo "             KYC reviewers: reviewer@engipay.local, reviewer2@engipay.local, same password"
	@echo "  Console:   http://127.0.0.1:$(PORT)/admin/support/console/  (support agents' live chat)"
	@echo "  Health:    http://127.0.0.1:$(PORT)/api/health/"
	@echo "  Websocket: ws://127.0.0.1:$(PORT)/ws/notifications/  (first message: {\"type\": \"auth\", \"token\": \"<access>\"})"
	@echo "  Webhooks:  sender 'dev' (secret in var/webhook_dev_secret): $(PY) manage.py webhook_sign --topic prices <payload.json>"
	@echo "  Email:     notification emails are printed by the worker (console backend)"
	@echo "  Escrow:    contract deployed on the local chain by the chain process; disputes are resolved with anvil"
	@echo "             dev account #9 (admin: Escrow > Escrows > Disputed; sign the prepared resolve transaction)"
	@echo ""
	@mkdir -p var && cat Procfile $(if $(filter 1,$(SANDBOX)),Procfile.sandbox) > var/Procfile.run
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start -f var/Procfile.run -d $(CURDIR) -p $(PORT); \
		status=$$?; $(PY) -m engipay.embedded_redis stop var/redis; exit $$status

# --- tests ----------------------------------------------------------------------------------------------------
# Tests get their own embedded Redis, Celery queue and cache prefix (pyproject.toml, pytest-env).
test: install chromium
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	@! grep -rnE "FloatField|float\(" --include=*.py apps engipay || (echo "float near money: use Decimal" && false)

bench: install
	$(PY) bench/auth_and_push.py
	$(PY) bench/help_search.py
	$(PY) bench/chat.py

clean:
	-$(PY) -m engipay.embedded_redis stop var/redis
	-$(PY) -m engipay.embedded_redis stop var/test-redis
	rm -rf var/staticfiles .tools
