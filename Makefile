# DexMV: the commands users type. Every target sets the environment up first (idempotent).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
# ROS 2 distribution of the wheels mode: kilted (default) or jazzy, e.g. `make test DISTRO=jazzy`.
# Each distribution has its own venv and build folders (.venv, install/ ...; .venv-jazzy, install-jazzy/ ...).
DISTRO ?= $(DEXMV_ROS_DISTRO)
export DEXMV_ROS_DISTRO := $(DISTRO)
# The selected distribution's install folder, sourced by every target below.
SOURCE = source "$$($(PYTHON) tools/dexmv_setup.py --where install)/setup.bash"

.PHONY: help setup test lint demo bench lock clean clean-env

help:
	@echo "make setup   create .venv, install dependencies, build the workspace (idempotent)"
	@echo "make test    setup, then lint and run every package's tests"
	@echo "make demo    setup, then run the pipeline on the embedded default input"
	@echo "make bench   setup, then run every benchmark (reports in bench-results/)"
	@echo "make clean   remove build/, install/, log/   make clean-env  also remove .venv"
	@echo "DISTRO=jazzy with any target: ROS 2 Jazzy wheels in .venv-jazzy, install-jazzy/ ... (default kilted)"
	@echo "then: source install/setup.bash && dexmv --help"

setup:
	@if [ -z "$(PYTHON)" ]; then echo "setup failed: no python3 on PATH: run 'apt-get install python3.11 python3.11-venv python3.11-dev'." >&2; exit 1; fi
	@$(PYTHON) tools/dexmv_setup.py

test:
	@if [ -z "$(PYTHON)" ]; then echo "setup failed: no python3 on PATH: run 'apt-get install python3.11 python3.11-venv python3.11-dev'." >&2; exit 1; fi
	@$(PYTHON) tools/dexmv_setup.py --test-tools
	@$(SOURCE) && ruff check .
	@PYTHON=$(PYTHON) tools/run_tests.sh

lint: setup
	@$(SOURCE) && ruff check .

demo: setup
	@$(SOURCE) && dexmv demo

bench: setup
	@$(SOURCE) && dexmv bench all --out bench-results

clean:
	@$(PYTHON) tools/dexmv_setup.py --clean

clean-env:
	@$(PYTHON) tools/dexmv_setup.py --clean-env

lock:
	@PYTHON=$(PYTHON) tools/update_lock.sh $(DISTRO)
