# Two commands do all the setup on a fresh machine:
#   make report   environment, data (found or downloaded and checked), results, book
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

.PHONY: setup report results book test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

results: setup
	$(BIN)/organizing validate
	$(BIN)/organizing run --profile $(PROFILE)
	$(BIN)/organizing summary

book: results
	@if command -v quarto >/dev/null 2>&1; then \
		PATH="$(abspath $(BIN)):$$PATH" ORGANIZING_PROFILE=$(PROFILE) quarto render; \
	else \
		echo ""; \
		echo "Quarto was not found, so the book was not rendered. The computed results"; \
		echo "are cached under .cache/organizing/. To render the book, install Quarto"; \
		echo "(>= 1.9.18): '$(BIN)/pip install quarto-cli' on a machine with internet access,"; \
		echo "or https://quarto.org/docs/get-started/, then run 'make report' again."; \
	fi

report: book

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf build _book .quarto .cache
