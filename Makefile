# Every target creates the project's own virtual environment (.venv) when it
# is missing or older than the packaging files, installs orb into it, and runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The demos beside the tour, each `python demos/<name>/run.py`: make demo-chat etc.
DEMOS := dgc workqueue chat bank ticker
DEMO_TARGETS := $(addprefix demo-,$(DEMOS))

.PHONY: demo demos $(DEMO_TARGETS) test lint bench fuzz clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) demos/tour.py

$(DEMO_TARGETS): demo-%: $(STAMP)
	$(PY) demos/$*/run.py

# The tour and every demo, one after the other.
demos: demo $(DEMO_TARGETS)

test: $(STAMP)
	$(PY) -m pytest

# The peers (Pyro5, RPyC) come from the `bench` extra. BENCH_ARGS passes
# options to the harness, e.g. make bench BENCH_ARGS="--duration 5 --rounds 3".
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# Fuzz the wire core, the TLS handshake and the reference parsers (fuzz/):
# coverage-guided with atheris when it installs, else a random mutator.
# FUZZ_ARGS, e.g. make fuzz FUZZ_ARGS="--target wire --seconds 600".
fuzz: $(STAMP)
	$(PY) -m pip install --quiet 'atheris>=2.3' || echo "atheris is unavailable here: fuzz/run.py uses its mutator"
	$(PY) fuzz/run.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
