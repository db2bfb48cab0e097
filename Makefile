# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   - virtual environment, install, migrate, serve on 127.0.0.1:8000 (SQLite)
#   make test  - dev dependencies, then the whole suite
# and, once a vendor, a product and a license exist (README, "A first license"):
#   make example    - the example themed site on 127.0.0.1:5000, against `make run`
#   make test-fast  - the unit and app tiers only (SQLite); make test-system the rest
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

EXAMPLE_PORT ?= 5000
VENDOR ?= acme-themes

.PHONY: run test test-fast test-system example lint check install dev bench bench-updates reliability clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed pyproject.toml client/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./client
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

run: install
	$(BIN)/license-server db upgrade
	@echo
	@echo "License server on http://$(HOST):$(PORT) (embedded SQLite in ./instance);"
	@echo "API reference at http://$(HOST):$(PORT)/docs."
	@if $(BIN)/license-server vendors list --json | grep -q '"slug"'; then \
		echo "Vendors here (slug, name, token issuer):"; \
		$(BIN)/license-server vendors list | sed 's/^/  /'; \
		echo "Lost the admin API key? $(BIN)/license-server api-keys create --vendor SLUG"; \
	else \
		echo "No vendor yet. Next, in another terminal:"; \
		echo "  $(BIN)/license-server vendors create 'Acme Themes'   # prints your admin API key"; \
	fi
	@echo "Then follow README.md, 'A first license with curl'; 'make example' runs the example site."
	@echo
	$(BIN)/license-server serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# the example site needs the client library, which `make run` does not install
$(VENV)/.client-installed: $(VENV)/.installed client/pyproject.toml
	$(BIN)/python -m pip install --quiet -e ./client
	touch $@

example: $(VENV)/.client-installed
	$(BIN)/python examples/themed_site/run.py --vendor $(VENDOR) --port $(EXAMPLE_PORT)

test: dev
	$(BIN)/python -m pytest

# unit + app tiers on SQLite: a simple mistake fails here first (tests/conftest.py);
# one worker per core, each test file on one worker (its module fixtures built once).
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: each worker would
# otherwise compile the package and assertion-rewrite every test module on every run
# (about 6 s of CPU per worker); schemathesis's plugin serves only system tests.
test-fast: dev
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -m "(unit or app) and not postgresql" \
		-n auto --dist loadfile -p no:schemathesis

# everything test-fast leaves out: system tests and the PostgreSQL runs
test-system: dev
	$(BIN)/python -m pytest -m "system or postgresql"

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

$(VENV)/.bench-installed: $(VENV)/.dev-installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

# the full benchmark (about 12 minutes, then the scale-out phase: 1, 2, 3 processes
# behind nginx, about 3); BENCH_ARGS=--quick for a short one
bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/scale_out.py $(SCALE_ARGS)

# update check vs validate, download vs a bare static handler (bench/updates.py)
bench-updates: $(VENV)/.bench-installed
	$(BIN)/python bench/updates.py $(BENCH_ARGS)

reliability: dev
	$(BIN)/python bench/reliability.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
