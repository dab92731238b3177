# `make bench` runs the quick benchmark set, every goal on the cnn (about 3 minutes on 2 cores);
# benchmarks/README.md lists the longer all-model runs.
PY ?= python

.PHONY: bench test lint
bench:
	$(PY) benchmarks/list_latency.py
	$(PY) benchmarks/overhead.py --repeats 2
	$(PY) benchmarks/time_to_accuracy.py cnn
	$(PY) benchmarks/memory.py cnn mlp
	$(PY) benchmarks/load_latency.py
	$(PY) benchmarks/inference_latency.py --seconds 1

test:
	pytest

lint:
	ruff check . && ruff format --check .
