# Two commands set everything up on a fresh machine with Python 3.11+ and make:
#   make run   - virtual environment, install, migrate, serve on 127.0.0.1:8000 (SQLite)
#   make test  - dev dependencies, then the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: run test lint check install dev bench bench-updates reliability clean

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
	@echo "License server on http://$(HOST):$(PORT) (embedded SQLite in ./instance)."
	@echo "Next, in another terminal:"
	@echo "  $(BIN)/license-server vendors create 'My Theme Shop'   # prints your admin API key"
	@echo "  then follow README.md, 'A first license with curl'."
	@echo
	$(BIN)/license-server serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: dev
	$(BIN)/python -m pytest

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

$(VENV)/.bench-installed: $(VENV)/.dev-installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

# the full benchmark (about 12 minutes); BENCH_ARGS=--quick for a short one
bench: $(VENV)/.bench-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# update check vs validate, download vs a bare static handler (bench/updates.py)
bench-updates: $(VENV)/.bench-installed
	$(BIN)/python bench/updates.py $(BENCH_ARGS)

reliability: dev
	$(BIN)/python bench/reliability.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
