"""`make setup`: a second run does nothing, rewrites are exact, and failures say what to do."""

import importlib.util
import os
import shutil
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


def test_the_venv_has_no_manylinux_paths_left(setup_module):
    left = [p for p in (setup_module.VENV / "share").glob("**/*.cmake") if "/opt/python/" in p.read_text()]
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


# ---------------------------------------------------------------- distributions


def _where(what: str, distro: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DEXMV_ROS_DISTRO", "DEXMV_VENV")}
    if distro is not None:
        env["DEXMV_ROS_DISTRO"] = distro
    return subprocess.run([sys.executable, str(SCRIPT), "--where", what], capture_output=True, text=True,
                          env=env, timeout=60)


def test_each_distribution_has_its_own_folders():
    assert _where("install", None).stdout.strip() == str(ROOT / "install")
    assert _where("venv", "kilted").stdout.strip() == str(ROOT / ".venv")
    assert _where("install", "jazzy").stdout.strip() == str(ROOT / "install-jazzy")
    assert _where("venv", "Jazzy").stdout.strip() == str(ROOT / ".venv-jazzy")
    assert _where("build", "jazzy").stdout.strip() == str(ROOT / "build-jazzy")


def test_an_unknown_distribution_is_one_clear_line():
    out = _where("install", "rolling")
    assert out.returncode == 1
    assert "DEXMV_ROS_DISTRO=rolling is not a distribution the wheels mode knows: use one of kilted, jazzy" \
        in out.stderr


@pytest.mark.parametrize("distro", ["kilted", "jazzy"])
def test_each_distribution_installs_its_own_wheels_and_lock(distro, monkeypatch):
    monkeypatch.setenv("DEXMV_ROS_DISTRO", distro)
    monkeypatch.delenv("DEXMV_EXTRAS", raising=False)  # CI asks for the Ray extra on one distribution
    spec = importlib.util.spec_from_file_location(f"dexmv_setup_{distro}", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    suffix = "" if distro == "kilted" else f"-{distro}"
    assert [f.name for f in module.requirement_files("wheels")] == ["dev.txt", "python.txt", f"ros-wheels{suffix}.txt"]
    assert [f.name for f in module.requirement_files("system")] == ["dev.txt", "python.txt"]
    assert module.lock_file().name == f"constraints{suffix}.txt"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_the_jazzy_lock_pins_jazzy_and_the_same_python_libraries():
    kilted, jazzy = _pins(ROOT / "requirements/constraints.txt"), _pins(ROOT / "requirements/constraints-jazzy.txt")
    assert jazzy["ros-rclpy"].startswith("7."), jazzy["ros-rclpy"]  # Jazzy's rclpy; Kilted's is 9.x
    assert kilted["ros-rclpy"].startswith("9."), kilted["ros-rclpy"]
    for line in (ROOT / "requirements/ros-wheels-jazzy.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.lower() in jazzy, f"{line} is not pinned in constraints-jazzy.txt"
    python_libs = {k: v for k, v in kilted.items() if not k.startswith("ros-")}
    differ = {k: (v, jazzy.get(k)) for k, v in python_libs.items() if jazzy.get(k) != v}
    assert not differ, f"Python libraries pinned differently for Jazzy: {differ}"


# ---------------------------------------------------------------- what setup did not create


def test_a_directory_setup_did_not_make_is_never_deleted(tmp_path):
    mine = tmp_path / "my-project"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me\n")
    env = dict(os.environ, DEXMV_VENV=str(mine))
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{mine} exists and was not made by `make setup`" in out.stderr
    assert "point DEXMV_VENV at a new or empty directory" in out.stderr
    assert (mine / "notes.txt").read_text() == "keep me\n" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert (ROOT / "build").is_dir() or (ROOT / "build-jazzy").is_dir()  # the checkout's builds are untouched


def test_a_build_folder_colcon_did_not_make_is_never_deleted(setup_module, tmp_path):
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / "data.bin").write_bytes(b"1")
    with pytest.raises(setup_module.SetupError, match="was not made by setup or colcon"):
        setup_module.remove_ours(folder, "COLCON_IGNORE")
    assert (folder / "data.bin").exists()
    (folder / "COLCON_IGNORE").touch()
    setup_module.remove_ours(folder, "COLCON_IGNORE")
    assert not folder.exists()


def test_an_empty_directory_becomes_a_venv_setup_owns(setup_module, tmp_path, monkeypatch):
    target = tmp_path / "env"
    target.mkdir()
    monkeypatch.setattr(setup_module, "VENV", target)
    monkeypatch.setattr(setup_module, "STAMPS", target / ".dexmv")
    setup_module.ensure_venv(sys.executable, "wheels")
    assert (target / "bin" / "python").exists()
    assert setup_module.venv_is_ours()
    assert (target / ".dexmv" / "mode").read_text().strip() == "wheels"


# ---------------------------------------------------------------- checks of what was built


def test_the_environment_is_whole(setup_module):
    mode = (setup_module.STAMPS / "mode").read_text().strip()
    assert setup_module.damaged_packages(mode) == []


def _fake_dist(site: Path, name: str, version: str, files: dict[str, str]) -> None:
    """A distribution as pip leaves it: its files and a dist-info with METADATA and RECORD."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    record = [f"{rel},," for rel in files] + [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def small_venv(setup_module, tmp_path, monkeypatch):
    """A real venv (no pip) with two distributions, and a lock that pins them."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3.*/site-packages"))
    _fake_dist(site, "alpha_pkg", "1.0", {"alpha_pkg/__init__.py": "", "alpha_pkg/core.py": "X = 1\n"})
    _fake_dist(site, "beta-pkg", "2.0", {"beta_pkg.py": ""})
    lock = tmp_path / "lock.txt"
    lock.write_text("alpha-pkg==1.0\nbeta-pkg==2.0\n")
    req = tmp_path / "req.txt"
    req.write_text("alpha_pkg  # a comment\nbeta-pkg>=1\n")
    monkeypatch.setattr(setup_module, "VENV", venv)
    monkeypatch.setattr(setup_module, "lock_file", lambda: lock)
    monkeypatch.setattr(setup_module, "requirement_files", lambda mode: [req])
    return site


@pytest.mark.parametrize("mode", ["wheels", "system"])
def test_a_lost_file_a_missing_package_and_a_wrong_version_are_found(setup_module, small_venv, mode):
    site = small_venv
    assert setup_module.damaged_packages(mode) == []
    (site / "alpha_pkg" / "core.py").unlink()
    assert setup_module.damaged_packages(mode) == [
        ("alpha-pkg", "1.0", "1 file(s) gone, e.g. alpha_pkg/core.py")]
    shutil.rmtree(site / "alpha_pkg")
    shutil.rmtree(site / "alpha_pkg-1.0.dist-info")
    (site / "beta-pkg-2.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: beta-pkg\nVersion: 1.5\n")
    assert sorted(setup_module.damaged_packages(mode)) == [
        ("alpha-pkg", "1.0", "not installed"), ("beta-pkg", "2.0", "version 1.5")]


def test_the_import_check_takes_paths_as_arguments_not_as_code(setup_module, tmp_path, monkeypatch):
    odd = tmp_path / 'we"ird $(touch PWNED) `touch PWNED2`'
    odd.mkdir()
    real = setup_module.INSTALL / "setup.bash"
    (odd / "setup.bash").write_text(f'source "{real}"\n')
    monkeypatch.setattr(setup_module, "INSTALL", odd)
    monkeypatch.chdir(tmp_path)
    assert setup_module.import_problem(setup_module.clean_environ()) is None
    assert not list(tmp_path.rglob("PWNED*")) and not list(setup_module.ROOT.glob("PWNED*"))
    # an environment with the venv but not the workspace: the check names what does not import
    (odd / "setup.bash").write_text(f'export PATH="{setup_module.VENV}/bin:$PATH"\n')
    problem = setup_module.import_problem(setup_module.clean_environ())
    assert problem == "ModuleNotFoundError: No module named 'dexmv_msgs'"


# ---------------------------------------------------------------- node start-up


def test_a_node_executable_stopped_while_python_starts_exits_0_quietly(setup_module, tmp_path):
    """The start-up hook covers what comes before a node module's first line (site, the ROS wheels'
    re-exec, the console-script wrapper); dexmv_runtime's own tests cover what comes after.

    A sitecustomize (run by site after the venv's .pth files) holds start-up for a second, so the
    signal lands there for certain; the same program at a path that is not a node executable gets
    Python's own KeyboardInterrupt, which shows the hook is what made the difference.
    """
    import signal
    import time

    hold = tmp_path / "hold"
    hold.mkdir()
    started = tmp_path / "started"
    (hold / "sitecustomize.py").write_text(
        f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(2.0)\n")
    program = "print('the node module ran')\n"
    node = tmp_path / "lib" / "dexmv_probe" / "probe_node"  # laid out as `ros2 run` finds executables
    other = tmp_path / "elsewhere" / "probe_node"
    for path in (node, other):
        path.parent.mkdir(parents=True)
        path.write_text(program)
    env = dict(os.environ, PYTHONPATH=f"{hold}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    results = {}
    for path, sig in ((node, signal.SIGINT), (node, signal.SIGTERM), (other, signal.SIGINT)):
        started.unlink(missing_ok=True)
        # SIGINT at its default in the child even where this session ignores it (a background job)
        proc = subprocess.Popen([str(setup_module.venv_python()), str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(sig)
        results[(path.parent.name, sig.name)] = (proc.wait(timeout=30), proc.stdout.read().decode())
    for key in (("dexmv_probe", "SIGINT"), ("dexmv_probe", "SIGTERM")):
        code, out = results[key]
        assert code == 0 and out == "", f"{key}: exit {code}\n{out}"
    code, out = results[("elsewhere", "SIGINT")]
    assert code != 0 and "KeyboardInterrupt" in out, f"exit {code}\n{out}"


def test_a_damaged_package_is_reinstalled(setup_module, tmp_path, monkeypatch):
    """What `make setup` does after e.g. `rm -rf .venv/lib/python3.11/site-packages/numpy`, with real pip."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    stamps = venv / ".dexmv"
    stamps.mkdir()
    pin = next(line for line in (ROOT / "requirements/constraints.txt").read_text().splitlines()
               if line.lower().startswith("iniconfig=="))  # small, pure Python, already in pip's cache
    lock, req = tmp_path / "lock.txt", tmp_path / "req.txt"
    lock.write_text(pin + "\n")
    req.write_text("iniconfig\n")
    monkeypatch.setattr(setup_module, "VENV", venv)
    monkeypatch.setattr(setup_module, "STAMPS", stamps)
    monkeypatch.setattr(setup_module, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(setup_module, "lock_file", lambda: lock)
    monkeypatch.setattr(setup_module, "requirement_files", lambda mode: [req])
    setup_module.ensure_python_packages("system")
    assert setup_module.damaged_packages("system") == []
    site = next(venv.glob("lib/python3.*/site-packages"))
    shutil.rmtree(site / "iniconfig")
    assert setup_module.damaged_packages("system")[0][:2] == ("iniconfig", pin.split("==")[1])
    assert setup_module.repair_python_packages("system") is True
    assert setup_module.damaged_packages("system") == []
    assert setup_module.repair_python_packages("system") is False
