# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Test processes: one per core (pytest-xdist); each has its own test database.
TEST_WORKERS ?= auto

.PHONY: install run test fuzz bench migrate chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --no-input

# Embedded defaults: SQLite, local-memory cache, a generated master key outside the repository.
run: migrate
	$(BIN)/python manage.py ensure_demo
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The browser tests drive Debian's Chromium through Playwright (Playwright downloads no browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
	$(BIN)/python -m pytest sdk/tests $(SDK_PYTEST_ARGS)

# Schemathesis (--checks all) against a live server; `make test` runs it too.
fuzz: install
	$(BIN)/python -m pytest tests/security/test_schemathesis.py $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py
