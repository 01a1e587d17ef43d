# The commands the README names. Each target sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKDIR ?= runs/vae_mnist

# The JAX build: ACCEL=auto (default) picks cuda13/cuda12 where `nvidia-smi -L` lists an NVIDIA GPU
# (by driver version), tpu where a TPU is present, else cpu; ACCEL=cpu|cuda12|cuda13|tpu overrides
# it (scripts/accel_extra.sh). `make -n run` shows the plan, pip extras included.
ACCEL ?= auto
ACCEL_EXTRA := $(shell ACCEL='$(ACCEL)' sh scripts/accel_extra.sh)
ifneq ($(filter error:%,$(firstword $(ACCEL_EXTRA))),)
$(error $(ACCEL_EXTRA))
endif
comma := ,
EXTRAS := test$(if $(filter cpu,$(ACCEL_EXTRA)),,$(comma)$(ACCEL_EXTRA))

.PHONY: setup data run lint test bench gpu-check docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'

data: setup
	$(BIN)/python scripts/prepare_data.py

# The practicum: train the VAE (and the AE beside it) on MNIST, write samples and results.
run: data
	$(BIN)/python -m experiments.vae_mnist --workdir $(WORKDIR)

# The suite is mostly single-threaded XLA compilation: TEST_WORKERS pytest-xdist processes
# (2 on the 2-core CI machine) run it in about half the time; TEST_WORKERS=0 runs it in one process.
# The tests run on the CPU; EBM_JAX_TEST_PLATFORM=gpu runs them on the GPU (tests/conftest.py).
TEST_WORKERS ?= 2

# Unused imports and variables (ruff F401, F841) and unused code (vulture, 80 % confidence).
lint: setup
	$(BIN)/python -m ruff check --select F401,F841 ebm_jax experiments scripts tests
	$(BIN)/python -m vulture --min-confidence 80 ebm_jax experiments scripts tests

test: data lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

# Benchmarks need the [bench] extra; torch 2.13.0 is the CPU wheel these machines carry.
bench: setup
	$(BIN)/pip install -q torch==2.13.0 -e '.[$(EXTRAS),bench]'
	$(BIN)/python scripts/bench_vae.py --quick

# The prepared accelerator check (scripts/gpu_check.sh); GPU_CHECK_ARGS=--dry-run runs its plan on the CPU.
GPU_CHECK_OUT ?= runs/gpu_check
gpu-check: data
	bash scripts/gpu_check.sh --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

# The API reference and the lecture pages, HTML in docs/_build/html, offline; warnings are errors.
# Needs the [docs] extra (Sphinx, MyST): without it, one line says how to get it.
docs:
	$(if $(shell $(BIN)/python -c "import sphinx, myst_parser" 2>/dev/null && echo ok),,$(error make docs needs the docs extra: $(BIN)/pip install -e '.[docs]' (after make setup)))
	$(BIN)/python -m sphinx -n -W --keep-going -q -b html docs docs/_build/html
