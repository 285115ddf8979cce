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

test: install ## run the test suite (make test ARGS="-k parse")
	$(BIN)/pytest $(ARGS)

test-browser: install ## run only the real-browser tests
	$(BIN)/pytest -m browser $(ARGS)

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## rewrite code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## BMA-scale figures vs this machine's floors: one table + benchmarks/results.json (BENCH_PAGES=2000)
	$(BIN)/python benchmarks/bench.py --pages $(BENCH_PAGES)

demo: install ## crawl the recorded site twice into data/demo.db and serve it on http://127.0.0.1:8001
	$(BIN)/python -m kpi_archive.publish.demo

serve: install ## serve an existing archive with Datasette (make serve DB=data/kpi.db)
	$(BIN)/kpi-archive serve $(DB)

clean: ## remove the virtualenv, caches and generated data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data *.egg-info

.PHONY: help install test test-browser lint format bench demo serve clean
