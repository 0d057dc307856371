# DexMV: the commands users type. Every target sets the environment up first (idempotent).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)

.PHONY: help setup test lint demo bench lock clean clean-env

help:
	@echo "make setup   create .venv, install dependencies, build the workspace (idempotent)"
	@echo "make test    setup, then lint and run every package's tests"
	@echo "make demo    setup, then run the pipeline on the embedded default input"
	@echo "make bench   setup, then run every benchmark (reports in bench-results/)"
	@echo "make clean   remove build/, install/, log/   make clean-env  also remove .venv"
	@echo "then: source install/setup.bash && dexmv --help"

setup:
	@if [ -z "$(PYTHON)" ]; then echo "setup failed: no python3 on PATH: run 'apt-get install python3.11 python3.11-venv python3.11-dev'." >&2; exit 1; fi
	@$(PYTHON) tools/dexmv_setup.py

test: setup
	@source install/setup.bash && ruff check .
	@tools/run_tests.sh

lint: setup
	@source install/setup.bash && ruff check .

demo: setup
	@source install/setup.bash && dexmv demo

bench: setup
	@source install/setup.bash && dexmv bench all --out bench-results

clean:
	rm -rf build install log

clean-env: clean
	rm -rf .venv

lock:
	@PYTHON=$(PYTHON) tools/update_lock.sh
