# Developer entry points. `make help` lists them.
# `make bench BENCH_ARGS=--quick` is a smoke run of the benchmark, in about 20 s, without the peers;
# the full run prints the nine targets (docs/benchmarks.md) and takes about 45 minutes with the peers.

PYTHON ?= .venv/bin/python
BENCH_ARGS ?=

.PHONY: help bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bench:  ## the side-by-side benchmark: benchmarks/results/<date>.{json,md,png}
	$(PYTHON) benchmarks/bench.py $(BENCH_ARGS)

# `make faults FAULTS_ARGS=--quick` is a smoke run of the reliability figures, in about a minute.
FAULTS_ARGS ?=

.PHONY: faults

faults:  ## faults, load, SSRF and secrets figures: benchmarks/results/faults-<date>.{json,md}
	$(PYTHON) benchmarks/faults.py $(FAULTS_ARGS)
