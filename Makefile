# Every target sets up what it needs: a fresh machine with Python 3 only needs `make test` or `make train`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: test train lessons bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the package metadata changes.
$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# The default recipe: the best measured inside the project's 30 minutes (benchmarks/RESULTS.md, runs 53-55, on
# the 2-core AMD EPYC (Zen 5) development machine of 2026-11-24: 90.08%, 89.72% and 90.27% test accuracy with
# seeds 0-2, a mean of 90.02%, in 24.0-24.8 minutes of training, with that host's OPENBLAS_CORETYPE=Haswell;
# without it, run 56, seed 3: 90.03% in 17.8 minutes; at the code of the twenty-seventh session, run 61, seed 8,
# without it: 90.08% in 14.4 minutes, and run 62, seed 9, with it: 90.37% in 20.5 minutes; ten seeds' mean 90.17%),
# each batch of 128 split over two processes, the first 2 of 14 epochs on 24x24 crops and the next 2 on 28x28,
# crops padded by reflection, GELU fused with batch norm. The 2-core Intel Xeon of the earlier sessions took
# 1.2-1.3x as long for the same steps as this machine with the pin did then: there this recipe would have needed
# about 30-32 minutes, and the same command with --epochs 11 reached 89.92% and 89.72% in 29.9 and 28.9 minutes
# (runs 47, 48).
# CIFAR-10 is looked for in $$TINYCNN_DATA, then ~/.cache/tinycnn, and downloaded there when absent.
# Override with TRAIN_ARGS="...".
TRAIN_ARGS ?= --model fastnet --model-arg widths=64,128,256 --model-arg identity=true --epochs 14 --val-fraction 0 \
	--batch-size 128 --lr 0.14 --crop-padding 2 --padding-mode reflect --label-smoothing 0.1 --weight-decay 1e-3 \
	--lookahead --freeze-after features.whiten.bias=3 --tta flip-translate --small-crops 24:2,28:2 --processes 2 \
	--model-arg activation=gelu --out runs/fastnet
train: $(STAMP)
	$(BIN)/python -m tinycnn train $(TRAIN_ARGS)

lessons: $(STAMP)
	@for lesson in lessons/[0-9][0-9]_*.py; do echo "== $$lesson"; $(BIN)/python $$lesson || exit 1; done

# The benchmark compares against PyTorch CPU, so it gets its own environment with torch in it.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . 'torch==2.13.0'
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/conv.py --repeats 21 --write benchmarks/RESULTS.md
	$(BENCH_VENV)/bin/python benchmarks/conv.py --net fastnet --batch 64 --repeats 21 --write benchmarks/RESULTS.md
	$(BENCH_VENV)/bin/python benchmarks/layers.py --repeats 21 --write benchmarks/RESULTS.md
	$(BENCH_VENV)/bin/python benchmarks/step.py --write benchmarks/RESULTS.md
# The ResNet-20 tables again with PyTorch held to AVX2: the vector instructions of OpenBLAS's Haswell kernels, to
# which this host's OPENBLAS_CORETYPE=Haswell holds NumPy and not PyTorch (RESULTS.md, "Twenty-ninth session").
# Where NumPy's OpenBLAS runs AVX-512 kernels (each table's BLAS line says), these tables favour tinycnn.
	$(BENCH_VENV)/bin/python benchmarks/conv.py --repeats 21 --torch-isa avx2 --write benchmarks/RESULTS.md
	$(BENCH_VENV)/bin/python benchmarks/layers.py --repeats 21 --torch-isa avx2 --write benchmarks/RESULTS.md
	$(BENCH_VENV)/bin/python benchmarks/step.py --torch-isa avx2 --write benchmarks/RESULTS.md

clean:
	rm -rf $(VENV) $(BENCH_VENV) *.egg-info .pytest_cache
