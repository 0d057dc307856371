#!/usr/bin/env bash
# Source ROS and the DexMV workspace (which chains .venv), then run the given command.
set -e
# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source /dexmv/install/setup.bash
exec "$@"
