# craftlab: `make train` trains the default config, `make test` runs the tests.
# Both create .venv and install what they need on first use.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-craftlab

.PHONY: train test lint install tensorboard clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "craftlab needs Python 3.10 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: on a CPU-only machine this picks the CPU build; a GPU machine gets CUDA.
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev,watch,ray]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(BIN)/python train.py configs/default.yaml

# Both cores (or all of a bigger machine): one pytest worker per core, one torch thread per worker.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# Lint, format check, the import-layer contract (pyproject's [tool.importlinter]) and types.
lint: $(STAMP)
	$(BIN)/ruff check craftlab tests benchmarks train.py
	$(BIN)/ruff format --check craftlab tests benchmarks train.py
	$(BIN)/lint-imports
	$(BIN)/mypy

tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir runs

clean:
	rm -rf $(VENV) runs
