#!/usr/bin/env bash
# The test command behind `make test` (after `ruff check .`): pytest over every package's tests.
# Extra arguments go to pytest (e.g. tools/run_tests.sh src/dexmv_sim/test -k reset).
# DEXMV_ROS_DISTRO=jazzy runs them in the Jazzy workspace (install-jazzy/) instead of install/.
# Exits non-zero when any test fails or no test ran (see conftest.py).
set -eo pipefail
cd "$(dirname "$0")/.."
install=$("${PYTHON:-python3}" tools/dexmv_setup.py --where install)
if [ ! -f "$install/setup.bash" ]; then
  echo "run_tests: $install/setup.bash is missing: run 'make setup${DEXMV_ROS_DISTRO:+ DISTRO=$DEXMV_ROS_DISTRO}' first." >&2
  exit 1
fi
# shellcheck disable=SC1091
source "$install/setup.bash"
exec python -m pytest "$@"
