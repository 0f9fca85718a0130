# `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow bench reproduce install clean docs

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,docs]"
	touch $(DOCS_STAMP)

demo: $(STAMP)
	$(VENV)/bin/layerwise demo

test: $(STAMP)
	$(PY) -m pytest -q

# The API reference from the docstrings (Sphinx autodoc + napoleon); any warning fails the build.
docs: $(DOCS_STAMP)
	rm -rf build/docs
	$(PY) -m sphinx -W --keep-going -q -b html docs/api build/docs/html
	@echo "API reference: build/docs/html/index.html"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/bench_loop.py
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_greedy.py
	$(PY) benchmarks/bench_peers.py
	$(PY) benchmarks/bench_memory.py
	$(PY) benchmarks/bench_scaling.py

# Issue #7: the literature on real MNIST (../shared/data/mnist). Long: about 1.5 hours on 2 cores.
# Each line appends its result to benchmarks/results/reproduce.jsonl; see benchmarks/RESULTS.md.
reproduce: $(STAMP)
	cd benchmarks && ../$(PY) reproduce_sdae.py --pretrain denoising --save-stack results/sdae_stack
	cd benchmarks && ../$(PY) reproduce_sdae.py --pretrain none
	cd benchmarks && ../$(PY) reproduce_sdae.py --pretrain rbm
	cd benchmarks && ../$(PY) reproduce_deep_ae.py --epochs 40
	cd benchmarks && ../$(PY) reproduce_few_labels.py
	cd benchmarks && ../$(PY) reproduce_vae.py --epochs 50
	cd benchmarks && ../$(PY) reproduce_sklearn_rbm.py
	cd benchmarks && ../$(PY) reproduce_sdae.py --pretrain denoising --load-stack results/sdae_stack --precision bf16
	cd benchmarks && ../$(PY) defaults.py

clean:
	rm -rf $(VENV) runs .pytest_cache build/docs
