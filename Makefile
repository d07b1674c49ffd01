# Plain targets: a virtualenv in .venv, the package installed editable with its test and lint extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint demo bench clean

$(BIN)/rigbridge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,broker,lint]'
	touch $(BIN)/rigbridge

install: $(BIN)/rigbridge

test: install
	$(BIN)/python -m pytest -n auto --dist loadfile

# The rule set and the strictness live in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: install
	$(BIN)/ruff check bridge tests bench tools
	$(BIN)/mypy

demo: install
	$(BIN)/rigbridge demo

bench: install
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) build *.egg-info

# ESPHome (for examples/esphome and tests/examples) lives in its own virtualenv: it is large and pins its own deps.
.PHONY: examples-venv
examples-venv:
	$(PYTHON) -m venv .venv/esphome
	.venv/esphome/bin/pip install --quiet esphome==2026.6.5
