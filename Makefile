# Two commands: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench chaos clean contracts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The local chain comes from npm (package-lock.json); without npm the stack runs without it
# and says so.
run: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory node_modules/.package-lock.json; fi
	$(BIN)/oms dev

# The compiler, the local chain and axe-core are npm packages (package-lock.json); without npm
# their tests skip (and fail in CI).
test: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory node_modules/.package-lock.json; fi
	$(BIN)/python -m pytest

# The long chaos run (RELIABILITY.md); `make test` runs its short form. Logs stay in .oms/chaos.
chaos: $(STAMP)
	mkdir -p .oms
	OMS_CHAOS_LONG=1 $(BIN)/python -m pytest tests/chaos -s --basetemp=.oms/chaos

lint: $(STAMP)
	$(BIN)/ruff check .

# `make bench BENCH_ARGS="--no-codec --no-rate-limits"` and other switches: bench/run_bench.py --help.
bench: $(STAMP)
	$(BIN)/python -m bench.run_bench $(BENCH_ARGS)

# Recompile contracts/*.sol into the committed contracts/artifacts (contracts/README.md).
contracts: node_modules/.package-lock.json
	node contracts/compile.mjs

node_modules/.package-lock.json: package-lock.json
	npm ci

clean:
	rm -rf $(VENV) .oms .pytest_cache
