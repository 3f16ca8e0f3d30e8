# OrderHub: `make run` starts everything locally, `make test` checks everything.
# Both create .venv and install what they need on first use (Python 3.11+).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PY     := $(BIN)/python
REGION := us-east-1
PYNAMODB_VERSION := 6.1.0

.PHONY: help run stop status test lint typecheck cfn-lint pytest unit integration e2e package bench bench-reconcile demo job clean chromium bench-search
.PHONY: bench-hot

help:
	@echo "make run     start the local stack (API, emulated AWS, worker, scheduler)"
	@echo "make status  is the local stack running, and where (its URLs)"
	@echo "make stop    stop the local stack started by make run (from any terminal)"
	@echo "make test    lint, type checks, CloudFormation lint and every test"
	@echo "make bench   drive the running stack and print latency/throughput numbers"
	@echo "make bench-reconcile   time and memory of the streamed reconciliation (100 k orders)"
	@echo "make bench-search   order search p95 with 10,000 orders on the local stack"
	@echo "make demo    a minute of realistic signed orders against the running stack"
	@echo "make job NAME=<handler>   run one scheduled job now against the running stack"
	@echo "make package build the Lambda package and CloudFormation template into build/"

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OrderHub needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(STAMP)
	$(PY) -m local.stack

status: $(STAMP)
	@$(PY) -m local.control status || true  # exit 3 when stopped: for scripts, not make

stop: $(STAMP)
	@$(PY) -m local.control stop

test: lint typecheck cfn-lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The deployable artefacts: pynamodb vendored without botocore (Lambda ships it), then
# Chalice's SAM template merged with infra/resources.json, for one stage (tools/package.py:
# every resource name carries it, `orderhub-$(STAGE)-...`): make package STAGE=staging
STAGE ?= prod
package: $(STAMP)
	rm -rf vendor build/package
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --target vendor pynamodb==$(PYNAMODB_VERSION)
	AWS_DEFAULT_REGION=$(REGION) $(PY) -m tools.package --stage $(STAGE) build/package
	$(PY) -m tools.trim_package build/package/deployment.zip  # unused modules, symbol tables
	@ls -l build/package

cfn-lint: package
	$(BIN)/cfn-lint build/package/sam.json
	$(PY) -m tools.trim_package --check build/package/deployment.zip  # imports; size budget

# Two workers on CI's two cores; a file's tests stay together on one worker (the e2e files
# share their worker's stack and run in order).
PYTEST_WORKERS ?= auto

pytest: $(STAMP) chromium
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

# The console's e2e tests drive Debian's Chromium (Playwright with executable_path; never
# `playwright install`); installed here when missing, with a CJK font for zh-CN screenshots.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei; }

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

e2e: $(STAMP) chromium
	$(PY) -m pytest tests/e2e

bench: $(STAMP) package  # the cold-start run times the package as built now
	$(PY) bench/drive.py --mode bench
	$(PY) bench/waves.py  # six waves of 500 paid orders: flat as data grows
	$(PY) bench/drive.py --mode flash
	$(PY) bench/drive.py --mode chaos --start-stack
	$(PY) bench/stock_push.py
	$(PY) bench/cold_start.py  # the webhook's cold import vs boto3, the package size

# 10,000 orders stored on a fresh local stack, then the console's searches timed (p50/p95)
bench-search: $(STAMP)
	$(PY) bench/search.py

# a flash sale on one hot SKU at K = 0, 1, 2, 4, 8 shards, emulator's per-item write limit on
bench-hot: $(STAMP)
	$(PY) bench/flash_sale.py

# in process, no stack needed: 100 k orders per side through the streamed reconciliation
bench-reconcile: $(STAMP)
	$(PY) bench/reconcile.py

demo: $(STAMP)
	$(PY) -m bench.demo

job: $(STAMP)
	$(PY) -m local.job $(NAME)

clean:
	rm -rf $(VENV) build vendor .pytest_cache .mypy_cache .ruff_cache
