.DEFAULT_GOAL := help
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=
DB ?= data/kpi.db
BENCH_PAGES ?= 30000

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/kpi-archive: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(BIN)/kpi-archive ## create .venv and install the project with its dev tools

test: install ## run the test suite without the browser tests (make test ARGS="-k parse")
	$(BIN)/pytest -m "not browser" $(ARGS)

test-browser: install ## run only the real-browser tests (Debian's Chromium)
	$(BIN)/pytest -m browser $(ARGS)

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## rewrite code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: install ## pin every runtime dependency in requirements.lock (pip-tools), for deploy/
	$(BIN)/pip install -q pip-tools
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile -q --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url --no-emit-trusted-host -o requirements.lock pyproject.toml

fuzz: install ## 10,000 mutated pages through parse_page; reports the slowest (make fuzz ARGS="--count 50000")
	$(BIN)/python tests/fuzz_pages.py $(ARGS)

bench: install ## BMA-scale figures vs this machine's floors: one table + benchmarks/results.json (BENCH_PAGES=2000)
	$(BIN)/python benchmarks/bench.py --pages $(BENCH_PAGES)

demo: install ## crawl the recorded site twice into data/demo.db and serve it on http://127.0.0.1:8001
	$(BIN)/python -m kpi_archive.publish.demo

serve: install ## serve an existing archive with Datasette (make serve DB=data/kpi.db)
	$(BIN)/kpi-archive serve $(DB)

clean: ## remove the virtualenv, caches and generated data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data *.egg-info

.PHONY: help install test test-browser lint format lock fuzz bench demo serve clean
