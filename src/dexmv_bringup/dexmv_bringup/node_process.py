"""Node executables started as their own OS processes, the way `ros2 run` starts them.

Shared by the tests (root conftest.py) and `dexmv demo`, which both start real nodes without
ros2cli or launch (neither exists on PyPI). Output goes to a log file, so a busy node never
blocks on a full pipe and a failure can show what the node printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


def node_executable(package: str, executable: str) -> str:
    """The path `ros2 run <package> <executable>` would run."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        prefix = get_package_prefix(package)
    except PackageNotFoundError:
        raise FileNotFoundError(f"package {package} is not installed: run `make setup` and source "
                                "install/setup.bash") from None
    path = Path(prefix) / "lib" / package / executable
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: is {package} built (make setup)?")
    return str(path)


def ros_arguments(params: Mapping[str, object] | None) -> list[str]:
    """`--ros-args -p name:=value ...` for the given parameters (lists as YAML flow sequences)."""
    if not params:
        return []

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    return ["--ros-args"] + [x for k, v in params.items() for x in ("-p", f"{k}:={value(v)}")]


class NodeProcess:
    """A node executable running as its own OS process, with its output captured to a file."""

    def __init__(self, cmd: list[str], log_path: str | Path, env: Mapping[str, str] | None = None) -> None:
        self.cmd = cmd
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ if env is None else env))

    @classmethod
    def start(cls, package: str | None = None, executable: str | None = None, *, log_dir: str | Path,
              params: Mapping[str, object] | None = None, args: list[str] | None = None,
              script: str | Path | None = None, log_name: str | None = None) -> NodeProcess:
        """Start an installed node executable (or a Python script with this interpreter)."""
        if script is not None:
            cmd, name = [sys.executable, str(script)], Path(script).stem
        else:
            cmd, name = [node_executable(package, executable)], executable
        cmd += list(args or []) + ros_arguments(params)
        return cls(cmd, Path(log_dir) / f"{log_name or name}.log")

    def output(self) -> str:
        """Everything the node printed so far (also after stop(): the log file stays)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 20.0) -> bool:
        """True once the node printed `text`; False on timeout or if it exited without printing it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                return text in self.output()
            time.sleep(0.05)
        return False

    def interrupt(self, timeout: float = 15.0) -> int:
        """SIGINT, as Ctrl-C would send; returns the exit code (kills after `timeout` and raises)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"{self.cmd[0]} ignored SIGINT for {timeout} s:\n{self.output()}") from None

    def stop(self) -> None:
        """Stop the node if it still runs (SIGINT, then SIGKILL after 10 s) and close the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def interrupt_all(nodes: Mapping[str, NodeProcess]) -> dict[str, int | str]:
    """SIGINT to each node, as Ctrl-C would, then close its log: exit code per node (or why it was killed)."""
    codes: dict[str, int | str] = {}
    for name, proc in nodes.items():
        try:
            codes[name] = proc.interrupt()
        except RuntimeError as err:
            codes[name] = str(err)
        proc.stop()
    return codes


def unclean_exits(codes: Mapping[str, int | str], logs: str | Path) -> None:
    """Raise when a node did not exit 0 on SIGINT (the message names them and the log folder)."""
    unclean = {n: c for n, c in codes.items() if c != 0}
    if unclean:
        raise RuntimeError(f"nodes that did not stop cleanly on SIGINT: {unclean} (logs in {logs})")

