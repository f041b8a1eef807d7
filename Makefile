# Marketing OS — every target bootstraps what it needs on a fresh machine with only Python 3.11.
# uv comes from PyPI into .tools/; the project's environment is .venv/, installed from uv.lock.

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test dev dashboard sandbox-serve bench lint format clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"

# --compile-bytecode: every package's .pyc written once here (~11 s), so no process - each Dagster run,
# each dbt subprocess - compiles them again where Python may not write its cache (PYTHONDONTWRITEBYTECODE,
# read-only installs): ~4 s of every run's start on the demo box.
$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --all-groups --compile-bytecode
	touch $(STAMP)

install: $(STAMP)

## The main job: generate the demo sandbox world (if absent) and materialize every asset end to end.
demo: $(STAMP)
	$(BIN)/mos demo

## The tests: offline, a few minutes on two cores.
test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q

## Dagster UI on http://127.0.0.1:3000 (same graph as the demo).
dev: $(STAMP)
	$(BIN)/mos prepare
	$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

## Streamlit dashboard on http://127.0.0.1:8501 (reads the serving snapshot that `make demo` publishes).
dashboard: $(STAMP)
	$(BIN)/streamlit run dashboards/app.py --server.headless true --server.address 127.0.0.1 --server.port 8501

## The fake platform APIs on a loopback port.
sandbox-serve: $(STAMP)
	$(BIN)/mos sandbox serve --port 8765

## Benchmarks: figures printed, never asserted.
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache
