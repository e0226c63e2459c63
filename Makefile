# gitops-gen: `make render` and `make test` work on a fresh machine with only python3.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: render test lint typecheck bench bench-smoke schemas core-schemas golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# The pre-commit test installs gitops-gen into pre-commit's own environment, offline, from these.
	$(BIN)/pip download --quiet --dest $(VENV)/wheelhouse . hatchling
	touch $(STAMP)

## Render the bundled example (services/ + environments/) into ./rendered
render: $(STAMP)
	$(BIN)/gitops-gen render --config .

# CI has real upstream binaries (kubeconform v0.7.0, rollouts-eval) in ../shared/tools/bin beside the
# checkout, not on PATH: the tests find them on PATH, and skip, saying why, where the folder is absent.
TOOLS_BIN := $(abspath $(wildcard $(CURDIR)/../shared/tools/bin))
TEST_PATH := $(if $(TOOLS_BIN),$(TOOLS_BIN):,)$(PATH)

## Run the whole test suite, the linter, the type checker and the bundled example's analysis tests (what CI runs)
test: $(STAMP) lint typecheck
	PATH='$(TEST_PATH)' $(BIN)/python -m pytest
	$(BIN)/gitops-gen test --config .

lint: $(STAMP)
	$(BIN)/ruff check generator tests
	$(BIN)/ruff format --check generator tests

typecheck: $(STAMP)
	$(BIN)/mypy

## Rewrite golden files after an intended change (review them in `git diff`)
golden: $(STAMP)
	$(BIN)/gitops-gen render --config .
	$(BIN)/python -m pytest tests/golden --update-golden

clean:
	rm -rf $(VENV) rendered build dist .pytest_cache .mypy_cache .ruff_cache

## Regenerate schemas/kubernetes/ from the upstream CRDs in schemas/crds/
schemas: $(STAMP)
	$(BIN)/python scripts/crd2schema.py

## Regenerate the core Kubernetes schemas (v1/, apps/, autoscaling/, policy/ under schemas/kubernetes/) from
## one release's OpenAPI document: make core-schemas SWAGGER=path/to/swagger.json (see CORE-SOURCES.md)
SWAGGER ?=
core-schemas: $(STAMP)
	@test -n '$(SWAGGER)' || { echo 'usage: make core-schemas SWAGGER=path/to/swagger.json (schemas/kubernetes/CORE-SOURCES.md)'; exit 2; }
	$(BIN)/python scripts/k8s2schema.py '$(SWAGGER)'

## Fleet-scale bench (issue 8): whole processes at N = 100, 300, 1000 services x 3 environments, against
## baselines run in the same command; writes bench/RESULTS.md. Not part of `make test`. Takes 20+ minutes;
## e.g. `make bench BENCH_ARGS="--sizes 100 --rows 1,3"` for less.
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

## The same at N = 10, one run, into $(VENV)/bench-smoke.md (a check that the bench runs, not a figure)
bench-smoke: $(STAMP)
	$(BIN)/python scripts/bench.py --sizes 10 --runs 1 --warmup 0 --out $(VENV)/bench-smoke.md
