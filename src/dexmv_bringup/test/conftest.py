"""Fixtures of dexmv_bringup's launch tests: the launch libraries, a short recording, launched graphs.

ROS 2's launch packages are not on PyPI: `make setup` installs them (DEXMV_LAUNCH_WHEELS, or
upstream's tags) or a sourced ROS 2 brings them. Where they are missing the launch tests skip
with the reason, except under CI (CI=true), where they fail: CI must run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dexmv_bringup.launch_process import LaunchProcess

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


@pytest.fixture
def launched(tmp_path: Path, launch_available):
    """launched(file, *args) -> LaunchProcess (`dexmv launch` in a session of its own, so that Ctrl-C can
    reach its process group as a terminal's would, and every process it left can be found); any run
    still going at teardown gets Ctrl-C."""
    runs: list[LaunchProcess] = []

    def _start(launch_file: str, *arguments: str) -> LaunchProcess:
        run = LaunchProcess(launch_file, list(arguments), tmp_path / f"launch-{len(runs)}.log")
        runs.append(run)
        return run

    yield _start
    for run in runs:
        if run.proc.poll() is None or run.processes():
            run.interrupt(timeout=30.0)
