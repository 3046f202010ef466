# Two commands do everything, each setting up .venv first if needed:
#   make demo   evaluate every shipped toy model on the toy protocol (CPU, offline)
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ddmd-bench-installed

.PHONY: demo test bench mutate install clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "ddmd-bench needs Python >= 3.10"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/ddmd-bench evaluate

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# One BLAS/OpenMP thread, so side-by-side ratios compare implementations, not thread pools (the demo and thread
# benchmarks start their own processes with the threads they compare); pytest-benchmark's JSON goes to
# benchmarks/results.json and the ratios with the machine description to benchmarks/summary.json, from which
# `ddmd-bench report readme` renders the performance table. BENCH_ARGS='-k frechet' runs a part (its ratios merge).
BENCH_ARGS ?=
bench: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest benchmarks \
		--benchmark-only --benchmark-json=benchmarks/results.json --timeout 7200 -p no:cacheprovider $(BENCH_ARGS)

# Mutation testing of the core math and bookkeeping (docs/mutation.md); one nice'd worker, results cached in mutants/
mutate: $(STAMP)
	HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 10 $(BIN)/mutmut run --max-children 1
	$(BIN)/python scripts/mutation_table.py

clean-venv:
	rm -rf $(VENV)
