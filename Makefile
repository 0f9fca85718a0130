# `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow bench reproduce install clean docs wheel-check notebook

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
	$(VENV)/bin/layerwise demo --overwrite

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -q

# What `pip install layerwise` gives: the wheel built, installed with the CPU torch into a fresh venv outside
# the clone, `layerwise demo` and a packaged example config run from an empty folder (about 5 minutes on 2 cores).
wheel-check:
	PYTHON=$(PYTHON) .ci/wheel_check.sh

# The API reference from the docstrings (Sphinx autodoc + napoleon); any warning fails the build.
docs: $(DOCS_STAMP)
	rm -rf build/docs
	$(PY) -m sphinx -W --keep-going -q -b html docs/api build/docs/html
	@echo "API reference: build/docs/html/index.html"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# examples/few_labels.ipynb run from top to bottom and saved with its outputs, without Jupyter (tests/test_notebook.py)
notebook: $(STAMP)
	$(PY) -m tests.test_notebook

bench: $(STAMP)
	$(PY) benchmarks/bench_loop.py
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_greedy.py
	$(PY) benchmarks/bench_peers.py
	$(PY) benchmarks/bench_memory.py
	$(PY) benchmarks/bench_scaling.py
	$(PY) benchmarks/bench_ladder.py --epoch
	$(PY) benchmarks/bench_time_to_accuracy.py run --data digits --seeds 0 1 2 && $(PY) benchmarks/bench_time_to_accuracy.py report

# The literature on real MNIST (../shared/data/mnist), each row over SEEDS (issues #7, #12), then few labels:
# the ladder network and M1+M2 against LabelSpreading (#12), and digits with 10% of the labels.
# Long: about 12 hours on 2 cores. Each line appends its result to benchmarks/results/reproduce.jsonl;
# benchmarks/RESULTS.md holds the tables; most of its runs used one thread: `OMP_NUM_THREADS=1 make reproduce`
# gives their figures to the digit (2 threads sum in another order: the figures move within their spread).
SEEDS ?= 0 1 2
reproduce: $(STAMP)
	cd benchmarks && for s in $(SEEDS); do \
	  ../$(PY) reproduce_sdae.py --pretrain denoising --random-state $$s --save-stack results/sdae_stack_$$s && \
	  ../$(PY) reproduce_sdae.py --pretrain none --random-state $$s && \
	  ../$(PY) reproduce_sdae.py --pretrain rbm --random-state $$s && \
	  ../$(PY) reproduce_deep_ae.py --max-iter 40 --random-state $$s && \
	  ../$(PY) reproduce_deep_ae.py --max-iter 80 --random-state $$s && \
	  ../$(PY) reproduce_vae.py --max-iter 50 --random-state $$s && \
	  ../$(PY) reproduce_vae.py --max-iter 200 --random-state $$s && \
	  ../$(PY) reproduce_sklearn_rbm.py --random-state $$s && \
	  ../$(PY) reproduce_sdae.py --pretrain denoising --random-state $$s --load-stack results/sdae_stack_$$s --precision bf16 || exit 1; \
	done
	cd benchmarks && ../$(PY) reproduce_few_labels.py --stack results/sdae_stack_0
	cd benchmarks && ../$(PY) few_labels_digits.py --seeds $(SEEDS)
	cd benchmarks && ../$(PY) few_labels_digits.py --seeds 20 21 22 23 24 25 26 27 28 29 --methods default labelspreading
	cd benchmarks && ../$(PY) few_labels_ensembles.py fit 10 11 12 13 14 15 && ../$(PY) few_labels_ensembles.py report 10 11 12 13 14 15
	cd benchmarks && ../$(PY) reproduce_semi.py --method ladder --labels 100 1000 --seeds $(SEEDS)
	cd benchmarks && ../$(PY) reproduce_semi.py --method m1m2 --labels 100 --seeds $(SEEDS)
	cd benchmarks && ../$(PY) defaults.py
	cd benchmarks && ../$(PY) bench_levers.py --threads
	cd benchmarks && ../$(PY) ladder_batch.py --seeds $(SEEDS)
	OMP_NUM_THREADS=1 $(PY) benchmarks/class_weight.py --seeds $(SEEDS) && OMP_NUM_THREADS=1 $(PY) benchmarks/class_weight.py --seeds $(SEEDS) --label-fraction 0.2
	cd benchmarks && ../$(PY) bench_time_to_accuracy.py run --data mnist100 mnist1000 --seeds $(SEEDS) --methods default labelspreading selftraining logistic && ../$(PY) bench_time_to_accuracy.py report
	cd benchmarks && ../$(PY) bench_time_to_accuracy.py run --data digitsall mnistall --seeds $(SEEDS) --methods default greedy mlp logistic && ../$(PY) bench_time_to_accuracy.py report
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	cd benchmarks && OMP_NUM_THREADS=1 ../$(PY) few_labels_tables.py run --methods hgb logreg selftraining labelspreading majority references_blend default --seeds $(SEEDS) && ../$(PY) few_labels_tables.py report

clean:
	rm -rf $(VENV) runs .pytest_cache build/docs
