# Two commands do all the set-up on a fresh machine (Python 3.11, pip, g++, make):
#   make demo   - create .venv, install, build the native library, run the demo
#   make test   - the same set-up, then the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast fuzz bench build docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,ray,docs]'
	touch $(STAMP)

build: $(STAMP)
	$(PY) -m ns3_mfs build

demo: build
	$(PY) -m ns3_mfs demo

test: build
	$(PY) -m pytest -q tests

test-fast: build
	$(PY) -m pytest -q -m "not slow" tests

# 10,000 generated inputs through the command line, accepted ones simulated (about 25 minutes)
fuzz: build
	$(PY) tests/fuzzing.py --cases 10000

# the documentation site (docs/ -> site/); mkdocs serve for a live preview
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

bench: build
	$(PY) scratch/bench_fabric.py
	$(PY) scratch/bench_startup.py

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache
