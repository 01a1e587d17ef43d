# The commands the README names. Each target sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKDIR ?= runs/vae_mnist

.PHONY: setup data run test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

data: setup
	$(BIN)/python scripts/prepare_data.py

# The practicum: train the VAE (and the AE beside it) on MNIST, write samples and results.
run: data
	$(BIN)/python -m experiments.vae_mnist --workdir $(WORKDIR)

# The suite is mostly single-threaded XLA compilation: TEST_WORKERS pytest-xdist processes
# (2 on the 2-core CI machine) run it in about half the time; TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: data
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

# Benchmarks need the [bench] extra; torch 2.13.0 is the CPU wheel these machines carry.
bench: setup
	$(BIN)/pip install -q torch==2.13.0 -e '.[test,bench]'
	$(BIN)/python scripts/bench_vae.py --quick
