#!/usr/bin/env bash
# The test command behind `make test` (after `ruff check .`): pytest over every package's tests.
# Extra arguments go to pytest (e.g. tools/run_tests.sh src/dexmv_sim/test -k reset).
# Exits non-zero when any test fails or no test ran (see conftest.py).
set -eo pipefail
cd "$(dirname "$0")/.."
if [ ! -f install/setup.bash ]; then
  echo "run_tests: install/setup.bash is missing: run 'make setup' first." >&2
  exit 1
fi
# shellcheck disable=SC1091
source install/setup.bash
exec python -m pytest "$@"
