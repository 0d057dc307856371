"""Connecting to Ray: an existing cluster by address, or a Ray started on this machine that
listens on the loopback interface only (nothing reachable from other hosts).

Every node of a cluster must run this workspace (same install path, `source install/setup.bash`
before `ray start`): Ray workers import dexmv_learning and dexmv_sim by name.
"""

from __future__ import annotations

import os
from types import ModuleType

LOCAL = "local"  # `--ray` without an address: a Ray instance of this machine's own
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class RayUnavailableError(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def import_ray() -> ModuleType:
    """The ray module, or one line that says how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError("--ray needs the optional Ray extra: run `DEXMV_EXTRAS=ray make setup` "
                                  "(or pip install ray with requirements/constraints.txt)") from None
    return ray


def connect(address: str | None = LOCAL, num_cpus: int | None = None) -> ModuleType:
    """ray, initialised (once per process; a second call with Ray up reuses the connection).

    address LOCAL (or None) starts Ray here without the dashboard, whatever RAY_ADDRESS says, and
    every Ray process listens on 127.0.0.1 only; "auto" joins the cluster `ray start` made on this
    node; "HOST:PORT" joins that cluster (its head node's GCS address)."""
    local = address in (None, LOCAL)
    if local:
        # Ray's switch for single-machine use (meant for macOS and Windows): the node's address is the
        # loopback one and its servers bind to it. Read by ray at import (and by its processes, which
        # inherit the environment), so it is set before the import and, if ray was imported, patched.
        os.environ[LOOPBACK_SWITCH] = "0"
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if local:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reporting home from an offline lab
    try:
        if local:
            ray.init(address=LOCAL, num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RayUnavailableError(f"--ray {address}: cannot connect to the Ray cluster ({first[:200]})") from None
    return ray
