"""Test-session rules shared by every package's tests.

- DDS stays on this machine and on a domain of its own: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  and a random ROS_DOMAIN_ID per session (per xdist worker), inherited by every node process a
  test starts, so parallel test sessions and other ROS users on the machine never see each other.
- A session in which no test passed exits non-zero, even if everything was skipped.
- ROS log files go to a temporary folder of the session (unless ROS_LOG_DIR is set), removed when
  the session ends.
- Fixtures for tests that talk to real nodes: an in-process rclpy node and node processes
  started like `ros2 run` would start them.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# The ROS log folder this session made (None when ROS_LOG_DIR came from outside): removed at the end.
_LOG_DIR_MADE: str | None = None


def _session_domain_id() -> int:
    """A random domain in 1..100 (ROS's safe range), offset per xdist worker."""
    base = int(os.environ.setdefault("DEXMV_TEST_DOMAIN_BASE", str(random.SystemRandom().randint(1, 90))))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base + int(worker.removeprefix("gw") or 0)


def pytest_configure(config: pytest.Config) -> None:
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.pop("ROS_STATIC_PEERS", None)
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    os.environ["ROS_DOMAIN_ID"] = str(_session_domain_id())
    if "ROS_LOG_DIR" not in os.environ:
        global _LOG_DIR_MADE
        _LOG_DIR_MADE = os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="dexmv-test-roslog-")
    os.environ.setdefault("MUJOCO_GL", "egl")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _LOG_DIR_MADE
    if _LOG_DIR_MADE is not None:
        shutil.rmtree(_LOG_DIR_MADE, ignore_errors=True)
        os.environ.pop("ROS_LOG_DIR", None)
        _LOG_DIR_MADE = None


def pytest_report_header(config: pytest.Config) -> str:
    return (f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} "
            f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE']}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    if not reporter.stats.get("passed"):
        reporter.write_line("no test ran (all were skipped or deselected): failing the session", red=True)
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


# ---------------------------------------------------------------- fixtures for ROS tests


@pytest.fixture
def ros_node():
    """An rclpy node in this process with its own context; shut down after the test."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f"test_{os.getpid()}_{random.randrange(1 << 30)}", context=context)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=context)


@pytest.fixture
def spin_until() -> Callable[..., bool]:
    """spin_until(node, predicate, timeout=10.0): spin `node` until predicate() is true."""
    from rclpy.executors import SingleThreadedExecutor

    def _spin(node, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if predicate():
                    return True
                executor.spin_once(timeout_sec=0.05)
            return bool(predicate())
        finally:
            executor.remove_node(node)

    return _spin


@pytest.fixture
def run_node(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """run_node(package, executable, params={...}, args=[...], python_script=None) -> NodeProcess.

    Starts the installed executable (or a script with this interpreter) as a separate process in
    this session's ROS domain; every process still running at teardown gets SIGINT.
    """
    from dexmv_bringup.node_process import NodeProcess

    started: list[NodeProcess] = []

    def _start(package: str | None = None, executable: str | None = None, params: dict | None = None,
               args: list[str] | None = None, script: str | Path | None = None) -> NodeProcess:
        name = Path(script).stem if script is not None else executable
        proc = NodeProcess.start(package, executable, log_dir=tmp_path, params=params, args=args, script=script,
                                 log_name=f"{name}-{len(started)}")
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        proc.stop()
