"""Test-session rules shared by every package's tests.

- DDS stays on this machine and on a domain of its own: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  and a random ROS_DOMAIN_ID per session (per xdist worker), inherited by every node process a
  test starts, so parallel test sessions and other ROS users on the machine never see each other.
- A session in which no test passed exits non-zero, even if everything was skipped.
- Fixtures for tests that talk to real nodes: an in-process rclpy node and node processes
  started like `ros2 run` would start them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


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
    os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="dexmv-test-roslog-"))
    os.environ.setdefault("MUJOCO_GL", "egl")


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


class NodeProcess:
    """A node executable running as its own OS process, with its output captured to a file."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.cmd = cmd
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                return text in self.output()
            time.sleep(0.05)
        return False

    def interrupt(self, timeout: float = 15.0) -> int:
        """SIGINT, as Ctrl-C would send; returns the exit code (kills after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.cmd[0]} ignored SIGINT for {timeout} s:\n{self.output()}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def node_executable(package: str, executable: str) -> str:
    """The path `ros2 run <package> <executable>` would run."""
    from ament_index_python.packages import get_package_prefix

    path = Path(get_package_prefix(package)) / "lib" / package / executable
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: is {package} built (make setup)?")
    return str(path)


@pytest.fixture
def run_node(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """run_node(package, executable, params={...}, args=[...], python_script=None) -> NodeProcess.

    Starts the installed executable (or a script with this interpreter) as a separate process in
    this session's ROS domain; every process still running at teardown gets SIGINT.
    """
    import sys

    started: list[NodeProcess] = []

    def _start(package: str | None = None, executable: str | None = None, params: dict | None = None,
               args: list[str] | None = None, script: str | Path | None = None) -> NodeProcess:
        if script is not None:
            cmd = [sys.executable, str(script)]
            name = Path(script).stem
        else:
            cmd = [node_executable(package, executable)]
            name = executable
        cmd += list(args or [])
        if params:
            cmd += ["--ros-args"] + [x for k, v in params.items() for x in ("-p", f"{k}:={v}")]
        proc = NodeProcess(cmd, tmp_path / f"{name}-{len(started)}.log", dict(os.environ))
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        proc.stop()
