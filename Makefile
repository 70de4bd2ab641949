# Two commands do all set-up on a fresh Debian machine: `make demo`, `make test`.
# Both are idempotent: the venv, the packages and the data are made once.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup data test test-fast lint demo tune benchmark-speed benchmark-accuracy benchmark-deploy benchmark-overhead benchmark-compress clean

setup: $(STAMP)

# Exact versions from constraints.txt (the lock); pyproject.toml declares ranges.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,lint]'
	touch $(STAMP)

# Fashion-MNIST from Debian's dataset-fashion-mnist (original IDX files).
data: $(FMNIST)

$(FMNIST):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; }; \
	else \
	  echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist'" \
	       "or set TFKD_FASHION_MNIST_DIR to a folder with the IDX .gz files."; exit 1; \
	fi

# Two test processes: most tests are bound by Python-side model building and
# tracing, so two workers use the two cores better than one (tests use their
# own temporary folders and free ports).
# Lint first (ruff, under a second): a style slip fails in seconds, not after the suite.
test: setup data lint
	$(PY) -m pytest -q -x -n 2 --durations=15

# The edit loop: everything but the slow multi-process and end-to-end tests.
test-fast: setup data
	$(PY) -m pytest -q -x -n 2 -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: setup data
	$(PY) recipes/demo.py --workdir=workdirs/demo

benchmark-speed: setup data
	$(PY) recipes/benchmark_speed.py --workdir=workdirs/benchmark_speed

benchmark-accuracy: setup data
	$(PY) recipes/benchmark_accuracy.py --workdir=workdirs/benchmark_accuracy

benchmark-deploy: setup data
	$(PY) recipes/benchmark_deploy.py --workdir=workdirs/benchmark_deploy

benchmark-overhead: setup data
	$(PY) recipes/benchmark_overhead.py --workdir=workdirs/benchmark_overhead

benchmark-compress: setup data
	$(PY) recipes/benchmark_compress.py --workdir=workdirs/benchmark_compress

# The searches behind recipes/results/tuned.json (see docs/results.md).
tune: setup data
	$(PY) recipes/tune.py --config=recipes/configs/tune.py:mlp_kd --workdir=workdirs/tune

clean:
	rm -rf $(VENV) workdirs
