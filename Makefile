# repurchase: every target has a `## description`; a bare `make` prints them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
WORK ?= var
CDNOW ?= ../shared/data/cdnow_master.csv

.DEFAULT_GOAL := help

.PHONY: help
help: ## print the targets and what they do
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install
install: $(VENV)/.installed ## create .venv and install the package with its dev tools

.PHONY: test
test: install ## run the whole test suite
	$(BIN)/pytest

.PHONY: lint
lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: install ## apply ruff's formatter and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: demo
demo: install ## the main job: sample shop -> train + register in MLflow -> promote -> score -> plan
	$(BIN)/repurchase demo --out $(WORK)/demo

.PHONY: bench-features
bench-features: install ## feature build on 10M orders vs a DuckDB SQL reference (time, peak memory)
	$(PY) bench/bench_features.py --orders 10000000 --customers 3500000 --work $(WORK)/bench

.PHONY: bench-quality
bench-quality: install ## model vs baselines (AUC, Brier) on CDNOW and sample-shop time splits, losses marked (minutes)
	$(PY) bench/bench_quality.py --work $(WORK)/bench-quality --json $(WORK)/bench-quality/metrics.json

.PHONY: bench-ceiling
bench-ceiling: install ## the model's AUC beside LightGBM cross-validated on the outcomes themselves (CDNOW + shop; minutes)
	$(PY) bench/bench_ceiling.py --orders $(CDNOW) --json $(WORK)/bench-ceiling/cdnow.json \
		--as-of 1997-06-30 1997-09-30 1997-12-31 1998-03-31
	test -f $(WORK)/bench-ceiling/shop/orders.csv || \
		$(BIN)/repurchase generate --customers 5000 --seed 11 --out $(WORK)/bench-ceiling/shop
	$(PY) bench/bench_ceiling.py --orders $(WORK)/bench-ceiling/shop/orders.csv \
		--products $(WORK)/bench-ceiling/shop/products.csv --as-of 2026-05-31 \
		--json $(WORK)/bench-ceiling/shop.json

.PHONY: bench-api
bench-api: install ## HTTP API under 32 concurrent wrk connections: predict, customer, health (throughput, p50/p95/p99); the soak's trained model
	bash scripts/apt-install.sh wrk
	$(PY) bench/soak.py --prepare-only --work $(WORK)/soak
	REPURCHASE_MLFLOW_TRACKING_URI=sqlite:///$(abspath $(WORK))/soak/mlflow.db \
		REPURCHASE_MLFLOW_ARTIFACT_ROOT=$(abspath $(WORK))/soak/artifacts \
		$(PY) bench/bench_api.py --work $(WORK)/bench-api --model-uri models:/repurchase@champion

.PHONY: bench-plan
bench-plan: install ## does the plan pick the right people? plan's top vs random/recency buyers (shop + CDNOW; model without BTYD features)
	$(PY) bench/bench_plan.py --work $(WORK)/bench-plan --no-btyd

.PHONY: bench-batch
bench-batch: install ## score + plan end to end on 10M orders vs the DuckDB SQL reference (time, peak memory, rows/s)
	$(PY) bench/bench_batch.py --orders 10000000 --customers 3500000 --work $(WORK)/bench --json $(WORK)/bench/batch.json

.PHONY: fuzz
fuzz: install ## Schemathesis on a real server with a trained model: 100 examples per operation and mode (>= 1,000 requests)
	$(PY) bench/soak.py --prepare-only --work $(WORK)/soak
	REPURCHASE_FUZZ_MODEL_URI=models:/repurchase@champion REPURCHASE_FUZZ_EXAMPLES=100 \
		REPURCHASE_MLFLOW_TRACKING_URI=sqlite:///$(abspath $(WORK))/soak/mlflow.db \
		REPURCHASE_MLFLOW_ARTIFACT_ROOT=$(abspath $(WORK))/soak/artifacts \
		$(BIN)/pytest tests/serving/api/test_fuzz.py -s -q -p no:cacheprovider

SOAK_RATE ?= 10
.PHONY: soak
soak: install ## 10 minutes at SOAK_RATE (default 10) req/s on a real server: errors, p50/p95/p99 per endpoint, RSS growth (< 10%)
	$(PY) bench/soak.py --work $(WORK)/soak --duration 600 --rate $(SOAK_RATE)

.PHONY: lock
lock: install ## pin the installed runtime + dev dependencies into requirements.lock
	@echo "# pip freeze of .venv (runtime + dev extras); regenerate with make lock" > requirements.lock
	$(BIN)/pip freeze --exclude-editable >> requirements.lock

.PHONY: audit
audit: install ## pip-audit the locked dependencies (requirements.lock) for known vulnerabilities
	$(BIN)/pip-audit -r requirements.lock --no-deps --disable-pip --strict --progress-spinner off

.PHONY: mlflow-ui
mlflow-ui: install ## open the MLflow UI on the local store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db \
		--default-artifact-root ./mlruns/artifacts --host 127.0.0.1 --port 5000

.PHONY: mlflow-serve
mlflow-serve: install ## MLflow's own server for the champion (POST /invocations on port 5001)
	PATH="$(abspath $(BIN)):$$PATH" MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db \
		$(BIN)/mlflow models serve -m models:/repurchase@champion --env-manager local \
		--host 127.0.0.1 --port 5001

.PHONY: serve
serve: install ## start the HTTP API on the demo data (local demo mode, no API key needed)
	REPURCHASE_DEMO_MODE=true $(BIN)/repurchase serve --host 127.0.0.1 --port 8000

.PHONY: clean
clean: ## remove generated data, the local MLflow store and caches
	rm -rf $(WORK) mlruns .pytest_cache .mypy_cache .ruff_cache
