"""A launch file run by `dexmv launch` (ROS 2's launch service) as a child process, as a program drives it.

The demo's graph stage and anything else that wants a whole graph, not single nodes, start it
here: in a session of its own (a Ctrl-C meant for the caller does not reach the nodes twice; the
caller stops them with interrupt(), SIGINT to launch, which passes it to every node as `ros2
launch` does), its output, every node's lines prefixed by launch, in one log file.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from dexmv_runtime.node_main import SHUTDOWN_LIMIT_S

LAUNCH_MODULES = ("launch", "launch_ros", "ros2launch", "composition_interfaces")
FINISHED = "process has finished cleanly"  # what launch logs for a node that exited 0
DIED = "process has died"  # ... and for one that did not


def missing_launch_modules() -> list[str]:
    """The ROS 2 launch packages this Python cannot import (empty: `dexmv launch` can run)."""
    missing = []
    for name in LAUNCH_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command) of every live process in session `sid`: what a launch left running."""
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


class LaunchProcess:
    """`dexmv launch <file> name:=value ...` running, its output in `log`."""

    def __init__(self, launch_file: str, arguments: Sequence[str], log: str | Path,
                 env: Mapping[str, str] | None = None) -> None:
        self.launch_file = launch_file
        self.log = Path(log)
        self._out = open(self.log, "wb")  # noqa: SIM115 - closed in interrupt()
        cmd = [sys.executable, "-m", "dexmv_bringup.cli.main", "launch", launch_file, *arguments]
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **(env or {})})

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def node_output(self, logger: str) -> str:
        """The lines a node logged, found by its logger name (`camera1.camera1` for /camera1/camera1)."""
        tag = f"[{logger}]:"
        return "\n".join(line for line in self.output().splitlines() if tag in line)

    def started(self) -> int:
        """How many node processes launch has started."""
        return self.output().count("process started with pid")

    def processes(self) -> list[tuple[int, str]]:
        """The processes of its session still alive: launch and its nodes."""
        return session_processes(self.proc.pid)

    def fail_if_down(self) -> None:
        """Raise (with the log's tail) when launch has exited or one of its nodes died."""
        if self.proc.poll() is not None or DIED in self.output():
            raise RuntimeError(f"{self.launch_file} failed (log {self.log}):\n{self.output()[-1500:]}")

    def wait_for_node_output(self, logger: str, text: str, timeout: float) -> None:
        """Wait until the node logging as `logger` has logged `text` (its "ready" line); raise if it does
        not within `timeout` s or the launch goes down meanwhile."""
        deadline = time.monotonic() + timeout
        while text not in self.node_output(logger):
            self.fail_if_down()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{logger} did not start within {timeout:.0f} s (log {self.log}):\n"
                                   f"{self.node_output(logger)[-800:]}")
            time.sleep(0.1)

    def stopped_cleanly(self, code: int, left: list[tuple[int, str]]) -> None:
        """After interrupt(): raise unless launch exited 0, no process was left and every node it
        started finished cleanly."""
        out = self.output()
        if code != 0 or left or DIED in out or out.count(FINISHED) != self.started():
            raise RuntimeError(f"{self.launch_file} did not stop cleanly on SIGINT: exit code {code}, "
                               f"{out.count(FINISHED)} of {self.started()} nodes finished cleanly, "
                               f"{len(left)} processes left (log {self.log}). The log's end (a node stuck on SIGINT "
                               f"prints its threads' stacks there after {SHUTDOWN_LIMIT_S:.0f} s):\n{out[-4000:]}")

    def interrupt(self, timeout: float = 60.0, group: bool = False) -> tuple[int, list[tuple[int, str]]]:
        """SIGINT to launch (it stops every node: SIGINT, then SIGTERM, then SIGKILL), or with `group` to its
        whole process group as a terminal's Ctrl-C does (each node then gets it twice); returns launch's exit
        code (-9: it had to be killed) and the processes it left, which are then killed."""
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        deadline = time.monotonic() + 5.0  # nodes launch signalled may take a moment to be reaped
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.processes()
        for pid, _ in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if code is None:
            self.proc.kill()
            self.proc.wait()
            code = -9
        self._out.close()
        return code, left
