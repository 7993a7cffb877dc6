# Two commands do all the setup on a fresh machine:
#   make report   environment, data (found, or the study's downloaded and checked), results,
#                 book
#                 (Quarto installed into the environment when it is missing)
#   make test     environment, then the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned, so that pip never resolves a multi-GB CUDA
# build on a machine without a GPU. Elsewhere, a CPU-only machine can add
# TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PROFILE ?= full

.PHONY: setup report results book test test-fast lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# fetch-data finds the campaign (ORGANIZING_DATA_DIR, else data/) or, for the study's own
# data, downloads it into data/ and checks its sha256: the one step that may download.
results: setup
	$(BIN)/organizing fetch-data
	$(BIN)/organizing validate --profile $(PROFILE)
	$(BIN)/organizing run --profile $(PROFILE)
	$(BIN)/organizing summary --profile $(PROFILE)

# The book: Quarto renders HTML and a Typst PDF (no TeX). tools/render_book.sh uses the
# Quarto on PATH, else installs the `render` extra (quarto-cli) into the environment; if
# that fails it prints one line saying why, keeps the results and exits 0.
# `make book RESULTS=` renders without recomputing (the tests use it).
RESULTS ?= results
book: $(RESULTS)
	@VENV="$(VENV)" PROFILE="$(PROFILE)" sh tools/render_book.sh

report: book

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# The unit layer: every test that neither runs a pipeline nor fits for long (about 2 min).
test-fast: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow and not pipeline and not book"

lint: setup
	$(BIN)/ruff check .

# The benchmarks, with the peers' samplers (the `bench` extra: PyMC, nutpie). Stan runs
# where Debian's r-cran-rstan is installed (apt-get install r-cran-rstan), else is skipped.
bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf build _book .quarto .cache
