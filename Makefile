# Two commands on a fresh machine (Python 3.11, gcc, make): `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install up down status test check format bench bench-% fault-run clean reset

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install photofeed with its tools

up: install ## start the stack, topics, worker and gateway (API on http://127.0.0.1:8000)
	$(BIN)/photofeed up

down: ## stop everything; data stays in .photofeed/
	@if [ -x $(BIN)/photofeed ]; then $(BIN)/photofeed down; fi

status: install
	$(BIN)/photofeed status

test: install ## run every test against a stack the session starts itself (and Chromium)
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium) || echo "chromium not installed: tests/browser will fail" >&2
	$(BIN)/python -m pytest

check: install ## lint, format check, strict typing
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## run every benchmark (figures beside their bare baselines); fails naming misses
	@mkdir -p .photofeed && : > .photofeed/bench.log
	@for b in bench/bench_*.py; do n=$$(basename $$b .py); \
		$(BIN)/python -m bench.$$n > .photofeed/bench-$$n.log 2>&1; rc=$$?; \
		cat .photofeed/bench-$$n.log >> .photofeed/bench.log; \
		grep -E '^(BENCH|INFO)' .photofeed/bench-$$n.log; \
		if [ $$rc -ne 0 ]; then echo "BENCH $$n exited_$$rc ratio=nan goal=1 better=higher" \
			| tee -a .photofeed/bench.log; fi; done
	@$(BIN)/python -m bench.verdict .photofeed/bench.log

fault-run: install ## faults under steady traffic; prints sent/acked/projected/lost/duplicated
	$(BIN)/python -m bench.fault_run

bench-%: install
	@mkdir -p .photofeed
	$(BIN)/python -m bench.bench_$* | tee .photofeed/bench-$*.log
	@$(BIN)/python -m bench.verdict .photofeed/bench-$*.log

reset: down ## stop everything and delete all data (events, photos, projections, secrets); keeps .venv
	rm -rf -- "$${PHOTOFEED_DATA_DIR:-.photofeed}"

clean: down
	rm -rf $(VENV) .photofeed .mypy_cache .ruff_cache .pytest_cache
