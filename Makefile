# Development tasks. `make demo` and `make test` work on a fresh clone with Python 3.11.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BASE ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
PY := $(BIN)/python
# The collection must sit at ansible_collections/humanitec/platform to be importable.
COLLECTIONS_ROOT := $(abspath .cache/collections)
COLLECTION_LINK := $(COLLECTIONS_ROOT)/ansible_collections/humanitec/platform

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_ROOT)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export PATH := $(BIN):$(PATH)
export PYTHON := $(PY)

.PHONY: help venv collection demo test lint unit system
help:
	@echo "make demo   run the demo playbook against the local API emulator"
	@echo "make test   run every check CI runs"

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON_BASE) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

collection: venv
	mkdir -p $(dir $(COLLECTION_LINK))
	ln -sfn $(CURDIR) $(COLLECTION_LINK)

demo: collection
	tools/with-emulator $(BIN)/ansible-playbook demo/demo.yml

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: collection
	$(BIN)/pytest tests/unit tests/emulator -q

system: collection
	$(BIN)/pytest tests/system -q -n 2

test: lint unit system
