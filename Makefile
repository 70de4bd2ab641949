# Two commands do all set-up on a fresh Debian machine: `make demo`, `make test`.
# Both are idempotent: the venv, the packages and the data are made once.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup data test demo benchmark-speed benchmark-accuracy clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
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

test: setup data
	$(PY) -m pytest -q -x --durations=15

demo: setup data
	$(PY) recipes/demo.py --workdir=workdirs/demo

benchmark-speed: setup data
	$(PY) recipes/benchmark_speed.py --workdir=workdirs/benchmark_speed

benchmark-accuracy: setup data
	$(PY) recipes/benchmark_accuracy.py --workdir=workdirs/benchmark_accuracy

clean:
	rm -rf $(VENV) workdirs
