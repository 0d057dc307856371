"""Fixtures of dexmv_bringup's launch tests: the launch libraries, a short recording, launched graphs.

ROS 2's launch packages are not on PyPI: `make setup` installs them (DEXMV_LAUNCH_WHEELS, or
upstream's tags) or a sourced ROS 2 brings them. Where they are missing the launch tests skip
with the reason, except under CI (CI=true), where they fail: CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LAUNCH_MISSING = ("ROS 2 launch is not importable (launch, launch_ros, ros2launch, composition_interfaces): "
                  "set DEXMV_LAUNCH_WHEELS to the folder of the launch wheels and run `make setup`, or source a "
                  "ROS 2 install")


@pytest.fixture(scope="session")
def launch_available() -> None:
    try:
        import composition_interfaces.srv  # noqa: F401
        import launch  # noqa: F401
        import launch_ros  # noqa: F401
        import ros2launch.api  # noqa: F401
    except ImportError as err:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{LAUNCH_MISSING} ({err}); CI runs the launch tests, it does not skip them", pytrace=False)
        pytest.skip(f"{LAUNCH_MISSING} ({err})")


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory):
    """A short synthetic two-camera recording (1 s at 10 fps), made once per session; paced (the
    recorder sees frames 1/fps apart, as a real camera delivers them), since camera_node plays a
    recording on its recorded timeline."""
    from dexmv_capture.synthetic.synthesize import synthesize

    return synthesize("relocate-mustard_bottle", 1.0, 0, tmp_path_factory.mktemp("recording"), fps=10.0, pace=True)


def _session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live process in session `sid` (zombies are gone already)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, ValueError):
            continue
    return found


class LaunchRun:
    """`dexmv launch <file> args` in a session of its own, so that Ctrl-C can reach its process group
    as a terminal's would, and every process it left behind can be found afterwards."""

    def __init__(self, launch_file: str, arguments: list[str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in interrupt()
        cmd = [sys.executable, "-m", "dexmv_bringup.cli.main", "launch", launch_file, *arguments]
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def processes(self) -> list[tuple[int, str]]:
        return _session_processes(self.proc.pid)

    def interrupt(self, timeout: float = 30.0, group: bool = False) -> tuple[int, list[tuple[int, str]]]:
        """SIGINT to the launch process (`kill -INT`; it signals its nodes), or with `group` to its whole
        process group as a terminal's Ctrl-C does (every node then gets it twice: from the terminal and
        from launch); returns (launch's exit code, processes left after it exited)."""
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        deadline = time.monotonic() + 5.0  # children the launch service signalled may take a moment
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.processes()
        for pid, _ in left:  # never leave them to the next test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if code is None:
            self.proc.kill()
            self.proc.wait()
            code = -9
        self._out.close()
        return code, left


@pytest.fixture
def launched(tmp_path: Path, launch_available):
    """launched(file, *args) -> LaunchRun; any run still going at teardown gets Ctrl-C."""
    runs: list[LaunchRun] = []

    def _start(launch_file: str, *arguments: str) -> LaunchRun:
        run = LaunchRun(launch_file, list(arguments), tmp_path / f"launch-{len(runs)}.log")
        runs.append(run)
        return run

    yield _start
    for run in runs:
        if run.proc.poll() is None or run.processes():
            run.interrupt()
