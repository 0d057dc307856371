"""`make setup`: a second run does nothing, rewrites are exact, and failures say what to do."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "dexmv_setup.py"


@pytest.fixture(scope="module")
def setup_module():
    spec = importlib.util.spec_from_file_location("dexmv_setup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_second_run_skips_every_step():
    # `make test` ran setup just before the tests, so this is a second run.
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("[setup]")]
    assert len(lines) == 1 and lines[0].startswith("[setup] ready"), out.stdout


def test_manylinux_paths_are_rewritten_to_this_interpreter(setup_module, tmp_path, monkeypatch):
    share = tmp_path / "share" / "pkg" / "cmake"
    share.mkdir(parents=True)
    export = share / "export_pkg__rosidl_generator_pyExport.cmake"
    export.write_text(
        'INTERFACE_INCLUDE_DIRECTORIES "/opt/python/cp311-cp311/include/python3.11;'
        '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"\n'
    )
    untouched = share / "other.cmake"
    untouched.write_text("set(X /opt/ros/jazzy)\n")
    monkeypatch.setattr(setup_module, "VENV", tmp_path)
    monkeypatch.setattr(setup_module, "venv_python", lambda: Path(sys.executable))
    assert setup_module.fix_cmake_exports() == 1
    import sysconfig

    import numpy

    assert export.read_text() == (
        f'INTERFACE_INCLUDE_DIRECTORIES "{sysconfig.get_paths()["include"]};{numpy.get_include()}"\n'
    )
    assert untouched.read_text() == "set(X /opt/ros/jazzy)\n"
    assert setup_module.fix_cmake_exports() == 0  # idempotent


def test_the_venv_has_no_manylinux_paths_left():
    left = [p for p in (ROOT / ".venv" / "share").glob("**/*.cmake") if "/opt/python/" in p.read_text()]
    assert not left


def test_missing_debian_packages_without_root_give_the_apt_line(setup_module, monkeypatch):
    monkeypatch.setattr(setup_module, "missing_debian_packages", lambda python: ["libusb-1.0-0", "cmake"])
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(setup_module.SetupError) as err:
        setup_module.ensure_debian_packages(sys.executable)
    assert "sudo apt-get install -y --no-install-recommends libusb-1.0-0 cmake" in str(err.value)


def test_wrong_python_is_one_clear_sentence(tmp_path):
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\necho 3 9\n")  # stands in for an interpreter of the wrong version
    fake.chmod(0o755)
    out = subprocess.run([str(fake), "-c", ""], capture_output=True, text=True)
    assert out.returncode == 0
    spec = importlib.util.spec_from_file_location("dexmv_setup_b", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(module.SetupError, match=r"Python 3\.11 is required .* is 3\.9: install python3\.11"):
        module.check_python(str(fake), "wheels")


def test_this_environment_has_every_debian_package(setup_module):
    assert setup_module.missing_debian_packages(sys.executable) == []


def test_sourced_environment_is_not_mistaken_for_a_system_ros(setup_module, monkeypatch):
    monkeypatch.setenv("ROS_DISTRO", "kilted")
    assert setup_module.system_ros_python() is None
