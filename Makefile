# Everything a fresh machine needs: `make train` and `make test` create the virtual
# environment and install the project into it before they run.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Extra arguments: `make test PYTEST_ARGS="-k conv"`, `make train ARGS="--model mlp"`.
PYTEST_ARGS ?=
ARGS ?=
# `--backend torch` in ARGS (or TORCH=1, e.g. to resume a torch run) installs PyTorch too,
# pinned to this version: an unpinned torch pulls the newest CUDA build, gigabytes.  Give
# your own (TORCH_PIN='torch==2.13.0+cu128 --index-url ...') or none (TORCH_PIN=).
TORCH ?= $(if $(filter torch --backend=torch,$(ARGS)),1)
TORCH_PIN ?= torch==2.13.0

.PHONY: train test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Everything the README's commands need: training, plots and traces (train) and the
# explorer (web), so that every `convgrad` command works after `make train` alone.
$(VENV)/.train-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@

$(VENV)/.torch-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,torch]' $(TORCH_PIN)
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $@

train: $(VENV)/$(if $(TORCH),.torch-installed,.train-installed)
	$(BIN)/convgrad train $(ARGS)

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/conv.py
	$(BIN)/python benchmarks/resnet.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .hypothesis test-artifacts
