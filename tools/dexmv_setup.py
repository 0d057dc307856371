#!/usr/bin/env python3
"""Set up the DexMV workspace from nothing, and skip every step whose inputs did not change.

`make setup` runs this with the Python that will own the virtual environment. It uses only the
standard library because it runs before anything is installed. Each step records a hash of its
inputs under `.venv/.dexmv/`; a second run with unchanged inputs only compares hashes and runs
the checks below (about 2 s of CPU).

Two modes:
- wheels (default): ROS 2 from PyPI wheels inside the venv, which then acts as the ROS underlay
  prefix (like /opt/ros/<distro>). `DEXMV_ROS_DISTRO` (or `make setup DISTRO=...`) picks the
  distribution: kilted (the default) or jazzy. Kilted lives in `.venv`, `build/`, `install/`,
  `log/`; another distribution in folders named after it (`.venv-jazzy`, `build-jazzy`,
  `install-jazzy`, `log-jazzy`), so both coexist in one checkout.
- system: a ROS 2 install is sourced (`ROS_DISTRO` set and its rclpy importable); the venv sees the
  system site-packages and the workspace builds against that ROS instead.

`DEXMV_EXTRAS=ray` (names separated by commas or spaces) also installs optional extras: each is a
requirements/<name>.txt that setup installs only when asked, pinned in the same lock. Such a file
names the extra's packages and the ones they bring beyond the base environment, so that the check
below expects those pins installed only when the extra was asked for.

`DEXMV_VENV=/some/dir` puts the virtual environment elsewhere (a new or empty directory, or one an
earlier setup made); setup never deletes a directory it did not create.

Every run, even one that changes nothing, checks that the environment is whole: each pinned
package installed at its version with all its files, and the built workspace importable. What is
broken is reinstalled or rebuilt; what cannot be repaired ends in one line naming the command to run.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes.util
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
# ROS 2 distributions of the wheels mode, newest first; the first is the default. Each has its
# requirement file (ros-wheels[-<distro>].txt) and its lock (constraints[-<distro>].txt).
DISTROS = ("kilted", "jazzy")
DISTRO = os.environ.get("DEXMV_ROS_DISTRO", "").strip().lower() or DISTROS[0]
_SUFFIX = {DISTROS[0]: ""}.get(DISTRO, f"-{DISTRO}")  # folder and file names of a non-default distribution
VENV = Path(os.environ.get("DEXMV_VENV") or ROOT / f".venv{_SUFFIX}").resolve()
BUILD = ROOT / f"build{_SUFFIX}"
INSTALL = ROOT / f"install{_SUFFIX}"
LOG = ROOT / f"log{_SUFFIX}"
STAMPS = VENV / ".dexmv"
TF2_MSGS_SRC = ROOT / "deps" / "tf2_msgs"

# Debian packages (name -> what needs it). Checked with dpkg where dpkg exists.
DEBIAN_PACKAGES = {
    "libusb-1.0-0": "pyrealsense2 (camera access and recordings)",
    "libegl1": "headless MuJoCo rendering with MUJOCO_GL=egl",
    "libgl1-mesa-dri": "the Mesa software renderer behind EGL",
    "cmake": "building the interface packages",
    "g++": "building the interface packages",
}
# Debian packages only the tests use (`make test` asks for them with --test-tools); without them the
# tests that need them skip with the reason (and fail under CI=true).
TEST_DEBIAN_PACKAGES = {
    "chromium": "headless screenshots of Rerun's web viewer (src/dexmv_bringup/test/test_view.py)",
}
WHEEL_PYTHON = (3, 11)
# Optional extras (requirements/<name>.txt), installed only when DEXMV_EXTRAS names them.
EXTRAS = ("ray",)
WANTED_EXTRAS = tuple(e for e in re.split(r"[,\s]+", os.environ.get("DEXMV_EXTRAS", "").strip().lower()) if e)


class SetupError(RuntimeError):
    """A setup failure with one sentence that tells the user what to do."""


def say(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


LOGS = LOG / "setup"


def run(cmd: list[str], what: str, env: dict[str, str] | None = None, show: str | None = None,
        log_name: str | None = None) -> None:
    """Run a command; on failure raise SetupError with `what` as the advice.

    With `log_name`, the full output goes to log/setup/<log_name>.log and only lines matching the
    regular expression `show` reach the terminal (progress, not noise); a failure prints the last
    lines of the log.
    """
    if log_name is None:
        if subprocess.run(cmd, env=env, cwd=ROOT).returncode != 0:
            raise SetupError(what)
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{log_name}.log"
    pattern = re.compile(show) if show else None
    tail: list[str] = []
    with open(log_path, "w") as log, subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        for line in proc.stdout:
            log.write(line)
            tail = [*tail[-39:], line]
            if pattern and pattern.search(line):
                print(f"  {line.rstrip()}", flush=True)
    if proc.returncode != 0:
        sys.stderr.write("".join(tail))
        raise SetupError(f"{what} Full output: {os.path.relpath(log_path, ROOT)}")


def digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            h.update(str(part.relative_to(ROOT) if part.is_relative_to(ROOT) else part).encode())
            h.update(part.read_bytes() if part.is_file() else b"<missing>")
        else:
            h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def stamp_ok(name: str, value: str) -> bool:
    path = STAMPS / name
    return path.is_file() and path.read_text().strip() == value


def stamp_write(name: str, value: str) -> None:
    STAMPS.mkdir(parents=True, exist_ok=True)
    (STAMPS / name).write_text(value + "\n")


# ---------------------------------------------------------------- mode and interpreter


def system_ros_python() -> str | None:
    """Return the python3 of a sourced system ROS 2, or None when none is sourced.

    A ROS counts as sourced when ROS_DISTRO is set and `import rclpy` works from the system
    python3 with an rclpy that does not live in one of our own venvs (so sourcing our own
    environment, of this distribution or another, never looks like a system ROS).
    """
    if not os.environ.get("ROS_DISTRO"):
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not _ours(p)
    )
    python = shutil.which("python3", path=env["PATH"])
    if python is None:
        return None
    probe = subprocess.run(
        [python, "-c", "import rclpy, os; print(os.path.realpath(rclpy.__file__))"],
        env=env, capture_output=True, text=True,
    )
    if probe.returncode != 0 or _ours(probe.stdout.strip()):
        return None
    return python


def _ours(path: str) -> bool:
    """True for a path inside this checkout or this setup's venv (ours, not a system ROS's)."""
    return bool(path) and (Path(path).is_relative_to(ROOT) or Path(path).is_relative_to(VENV))


def select_mode() -> tuple[str, str | None]:
    """('system', its python3) when a ROS 2 is sourced, else ('wheels', None); checks DEXMV_ROS_DISTRO."""
    if DISTRO not in DISTROS:
        raise SetupError(f"DEXMV_ROS_DISTRO={DISTRO} is not a distribution the wheels mode knows: use one "
                         f"of {', '.join(DISTROS)} (default {DISTROS[0]}).")
    sys_python = system_ros_python()
    if sys_python is None:
        return "wheels", None
    sourced = os.environ["ROS_DISTRO"]
    if os.environ.get("DEXMV_ROS_DISTRO") and sourced != DISTRO:
        raise SetupError(f"ROS 2 {sourced} is sourced but DEXMV_ROS_DISTRO={DISTRO}: unset DEXMV_ROS_DISTRO to "
                         f"build against {sourced}, or use a shell without /opt/ros/{sourced} sourced for "
                         f"{DISTRO} from wheels.")
    return "system", sys_python


def check_python(python: str, mode: str) -> tuple[int, int]:
    out = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise SetupError(f"Cannot run the Python interpreter '{python}': set PYTHON=/path/to/python3.11.")
    version = tuple(int(x) for x in out.stdout.split())
    if mode == "wheels" and version != WHEEL_PYTHON:
        raise SetupError(
            f"Python 3.11 is required for the ROS 2 wheels but '{python}' is "
            f"{version[0]}.{version[1]}: install python3.11 (apt-get install python3.11 "
            "python3.11-venv python3.11-dev) and run `make setup PYTHON=python3.11`."
        )
    return version  # type: ignore[return-value]


# ---------------------------------------------------------------- Debian packages


def missing_debian_packages(python: str, packages: dict[str, str] | None = None) -> list[str]:
    """Debian packages the stack needs that are not installed (functional checks off Debian); with
    `packages`, only those (by dpkg)."""
    missing: list[str] = []
    if packages is not None:
        return [pkg for pkg in packages if shutil.which("dpkg-query") and not _dpkg_installed(pkg)]
    if shutil.which("dpkg-query"):
        for pkg in DEBIAN_PACKAGES:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
            )
            if "install ok installed" not in out.stdout:
                missing.append(pkg)
    else:
        if not shutil.which("cmake"):
            missing.append("cmake")
        if not (shutil.which("g++") or shutil.which("c++")):
            missing.append("g++")
        if not ctypes.util.find_library("usb-1.0"):
            missing.append("libusb-1.0-0")
        if not ctypes.util.find_library("EGL"):
            missing.append("libegl1")
    # The interpreter needs venv support and its C headers (interface packages compile against them).
    probe = subprocess.run(
        [python, "-c", "import ensurepip, sysconfig, os; "
         "print(os.path.isfile(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"],
        capture_output=True, text=True,
    )
    minor = subprocess.run([python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
                           capture_output=True, text=True).stdout.strip()
    if probe.returncode != 0:
        missing.append(f"python{minor}-venv")
    if probe.stdout.strip() != "True":
        missing.append(f"python{minor}-dev")
    return missing


def _dpkg_installed(pkg: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return "install ok installed" in out.stdout


def ensure_test_packages(python: str) -> None:
    """The test-only Debian packages: installed where setup may (root with apt-get), else one note."""
    missing = missing_debian_packages(python, TEST_DEBIAN_PACKAGES)
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        uses = "; ".join(f"{p}: {TEST_DEBIAN_PACKAGES[p]}" for p in missing)
        say(f"optional test packages missing ({uses}): `sudo apt-get install {' '.join(missing)}`; "
            "the tests that need them skip")
        return
    ensure_debian_packages(python, missing)


def ensure_debian_packages(python: str, wanted: list[str] | None = None) -> None:
    missing = wanted if wanted is not None else missing_debian_packages(python)
    if not missing:
        return
    line = "apt-get install -y --no-install-recommends " + " ".join(missing)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SetupError(
            f"Missing system packages ({', '.join(missing)}): run `sudo apt-get update && sudo {line}` "
            "and then `make setup` again."
        )
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], "apt-get update failed: check the machine's access to Debian's mirrors.",
        env, log_name="apt-update")
    run(line.split(), f"`{line}` failed.", env, show=r"^(Setting up|Unpacking) ", log_name="apt-install")
    still = (missing_debian_packages(python) if wanted is None
             else missing_debian_packages(python, {p: "" for p in wanted}))
    if still:
        raise SetupError(f"Installed Debian packages but {', '.join(still)} still missing: install them by hand.")


# ---------------------------------------------------------------- virtual environment


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _distro_file(stem: str) -> Path:
    return REQ / f"{stem}{_SUFFIX}.txt"


def lock_file() -> Path:
    """The lock of the selected distribution: constraints.txt (Kilted), constraints-<distro>.txt."""
    return _distro_file("constraints")


def ros_wheels_file() -> Path:
    return _distro_file("ros-wheels")


def requirement_files(mode: str) -> list[Path]:
    """The Python libraries' files, plus the selected distribution's ROS wheels in wheels mode."""
    unknown = [e for e in WANTED_EXTRAS if e not in EXTRAS]
    if unknown:
        raise SetupError(f"DEXMV_EXTRAS names '{unknown[0]}', not an extra of this workspace: use one of "
                         f"{', '.join(EXTRAS)}, or unset DEXMV_EXTRAS.")
    files = sorted(f for f in REQ.glob("*.txt") if not f.name.startswith(("constraints", "ros-wheels"))
                   and (f.stem not in EXTRAS or f.stem in WANTED_EXTRAS))
    if mode == "wheels":
        files.append(ros_wheels_file())
    return files


def venv_is_ours() -> bool:
    """Whether setup created VENV: it writes .dexmv/mode into every venv it makes, first thing."""
    return (STAMPS / "mode").is_file()


def remove_ours(path: Path, marker: str) -> None:
    """Delete a folder setup (or colcon) made, recognised by `marker` inside it; refuse anything else."""
    if not path.exists():
        return
    if not (path / marker).exists():
        raise SetupError(f"{path} must be rebuilt but was not made by setup or colcon (no {marker} in it), so "
                         "it is left alone: move it away or delete it yourself, then run `make setup` again.")
    shutil.rmtree(path)


def ensure_venv(python: str, mode: str) -> None:
    """Create VENV, or recreate it when it is ours but of another mode or distribution.

    A DEXMV_VENV that exists and was not made here (no .dexmv/mode) is never touched: an empty
    directory is used as it is, anything else is an error that says what to do.
    """
    if VENV.exists() and not venv_is_ours() and (not VENV.is_dir() or any(VENV.iterdir())):
        raise SetupError(
            f"{VENV} exists and was not made by `make setup` (no .dexmv/ record in it), so setup leaves it "
            f"alone: point DEXMV_VENV at a new or empty directory (setup creates the environment there), or "
            f"unset DEXMV_VENV to use {ROOT / ('.venv' + _SUFFIX)}.")
    recorded = (STAMPS / "mode").read_text().strip() if venv_is_ours() else None
    distro = (STAMPS / "distro").read_text().strip() if (STAMPS / "distro").is_file() else DISTROS[0]
    if recorded is not None and (not venv_python().exists() or recorded != mode
                                 or (mode == "wheels" and distro != DISTRO)):
        say(f"recreating {VENV.name} for the '{mode}' mode" + (f" (ROS 2 {DISTRO})" if mode == "wheels" else ""))
        remove_ours(VENV, ".dexmv/mode")
        remove_ours(BUILD, "COLCON_IGNORE")
        remove_ours(INSTALL, "COLCON_IGNORE")
    if not venv_python().exists():
        say(f"creating {VENV} with {python}")
        # The record comes first: an interrupted creation still leaves a venv setup knows as its own.
        stamp_write("mode", mode)
        stamp_write("distro", DISTRO)
        cmd = [python, "-m", "venv", str(VENV)]
        if mode == "system":
            cmd.append("--system-site-packages")
        run(cmd, f"Could not create the virtual environment with {python}: install its venv module "
            "(apt-get install python3.11-venv).")


def ensure_python_packages(mode: str) -> bool:
    files = requirement_files(mode)
    constraints = lock_file()
    missing = [f.relative_to(ROOT) for f in [*files, constraints] if not f.is_file()]
    if missing:
        raise SetupError(f"{missing[0]} is missing: restore it from git, or write it with "
                         f"`tools/update_lock.sh {DISTRO}` if it is the lock.")
    key = digest(mode, sys.version_info[:2], *files, constraints)
    if stamp_ok("pip", key):
        return False
    say("installing Python packages from requirements/ (first run: a few minutes)")
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check",
           "-c", str(constraints)]
    for f in files:
        cmd += ["-r", str(f)]
    run(cmd, "pip could not install the Python dependencies: check access to PyPI, or fix requirements/ "
        "and run `make setup` again.", show=r"^(Collecting|Installing|Successfully|ERROR)", log_name="pip")
    stamp_write("pip", key)
    return True


# ---------------------------------------------------------------- CMake export rewrite

# The Kilted wheels are built in manylinux containers and their CMake exports name that
# container's interpreter paths. Interface packages that depend on them fail to configure
# until the paths point at this interpreter's headers and this numpy's headers.
_MANYLINUX_NUMPY = re.compile(r"/opt/python/cp3\d+-cp3\d+t?/lib/python3\.\d+t?/site-packages/numpy/_?core/include")
_MANYLINUX_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+t?/include/python3\.\d+t?")


def fix_cmake_exports() -> int:
    """Rewrite manylinux build paths in the venv's CMake files; returns how many files changed."""
    probe = subprocess.run(
        [str(venv_python()), "-c",
         "import sysconfig, numpy; print(sysconfig.get_paths()['include']); print(numpy.get_include())"],
        capture_output=True, text=True,
    )
    if probe.returncode != 0:
        raise SetupError("numpy is not importable in .venv: run `make setup` again (pip step).")
    py_include, np_include = probe.stdout.split()
    changed = 0
    for path in VENV.glob("share/**/*.cmake"):
        if not path.is_file():
            continue
        text = path.read_text()
        if "/opt/python/" not in text:
            continue
        new = _MANYLINUX_INCLUDE.sub(py_include, _MANYLINUX_NUMPY.sub(np_include, text))
        if new != text:
            path.write_text(new)
            changed += 1
    left = [str(p) for p in VENV.glob("share/**/*.cmake") if p.is_file() and "/opt/python/" in p.read_text()]
    if left:
        raise SetupError(f"Unknown manylinux paths remain in {left[0]}: extend tools/dexmv_setup.py's rewrite rules.")
    return changed


# ---------------------------------------------------------------- environment files


def write_env_files(mode: str) -> None:
    """Write .venv/local_setup.{sh,bash}: the underlay that install/setup.bash chains to."""
    lines = [
        "# Generated by tools/dexmv_setup.py: the DexMV environment prefix. install/setup.bash sources",
        "# this first, as it would source /opt/ros/<distro>/local_setup.bash.",
        f'_dexmv_venv="{VENV}"',
        'export VIRTUAL_ENV="$_dexmv_venv"',
        'case ":$PATH:" in *":$_dexmv_venv/bin:"*) ;; *) export PATH="$_dexmv_venv/bin:$PATH" ;; esac',
    ]
    if mode == "wheels":
        for var in ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH"):
            lines.append(
                f'case ":${{{var}:-}}:" in *":$_dexmv_venv:"*) ;; '
                f'*) export {var}="$_dexmv_venv${{{var}:+:${var}}}" ;; esac'
            )
    lines += [
        'export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"',
        "# Keep DDS discovery on this machine unless the user asks for more.",
        'export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"',
        'export MUJOCO_GL="${MUJOCO_GL:-egl}"',
        'export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-$MUJOCO_GL}"',
        "unset _dexmv_venv",
        "",
    ]
    body = "\n".join(lines)
    (VENV / "local_setup.sh").write_text(body)
    (VENV / "local_setup.bash").write_text(
        "# Generated by tools/dexmv_setup.py.\n"
        '. "$(builtin cd "$(dirname "${BASH_SOURCE[0]}")" > /dev/null && pwd)/local_setup.sh"\n'
    )


# Written into the venv's site-packages; Python runs it at start-up through the .pth file below.
_NODE_START_HOOK = '''"""Written by tools/dexmv_setup.py: a DexMV node executable stopped while it starts exits quietly.

Python runs this (through 00_dexmv_node_start.pth) while it starts, before the console-script
wrapper finds the node's entry point and before the node module's first line calls
dexmv_runtime's quiet_interrupts(), which takes over. It acts only for executables installed as
<prefix>/lib/dexmv_<package>/<name> (how `ros2 run` and dexmv's node processes start nodes):
SIGINT or SIGTERM there exits 0 at once, instead of a KeyboardInterrupt traceback or exit -2.
"""

import os
import signal
import sys


def _exit_quietly(signum, frame):
    os._exit(0)


_argv = getattr(sys, "orig_argv", [])
_script = _argv[1].replace(os.sep, "/").split("/") if len(_argv) > 1 else []
if len(_script) >= 3 and _script[-3] == "lib" and _script[-2].startswith("dexmv_"):
    signal.signal(signal.SIGINT, _exit_quietly)
    signal.signal(signal.SIGTERM, _exit_quietly)
'''


def write_node_start_hook() -> None:
    """Install _NODE_START_HOOK in the venv (first of its .pth files, so before the ROS wheels' re-exec)."""
    probe = subprocess.run([str(venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, env=clean_environ())
    if probe.returncode != 0:
        raise SetupError(f"The venv's interpreter does not run: run `make clean-env setup` to recreate {VENV}.")
    site = Path(probe.stdout.strip())
    for name, text in (("_dexmv_node_start.py", _NODE_START_HOOK),
                       ("00_dexmv_node_start.pth", "import _dexmv_node_start\n")):
        path = site / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)


_PATH_LISTS = ("PATH", "AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "COLCON_PREFIX_PATH", "PYTHONPATH",
               "LD_LIBRARY_PATH")


def clean_environ() -> dict[str, str]:
    """os.environ without this checkout's or this venv's folders in its search paths.

    A shell that sourced the workspace of another distribution (install/ vs install-jazzy/) must
    not leak its rclpy, messages or tf2_msgs into this build or its checks.
    """
    env = dict(os.environ)
    for var in _PATH_LISTS:
        if var in env:
            env[var] = os.pathsep.join(p for p in env[var].split(os.pathsep) if p and not _ours(p))
    # The wheels' start-up hook (ros_wheels_bootstrapper) puts the venv's ROS libraries on
    # LD_LIBRARY_PATH and re-executes Python once, unless this says it already did.
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    return env


def build_env(mode: str) -> dict[str, str]:
    """The environment colcon and CMake run in: the venv first, then whatever ROS is sourced."""
    env = clean_environ()
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONHOME", None)
    if mode == "wheels":
        for var in ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH"):
            old = [p for p in env.get(var, "").split(os.pathsep) if p and p != str(VENV)]
            env[var] = os.pathsep.join([str(VENV), *old])
    # Chains .venv/local_setup.* into install/setup.* in both modes.
    old = [p for p in env.get("COLCON_PREFIX_PATH", "").split(os.pathsep) if p and p != str(VENV)]
    env["COLCON_PREFIX_PATH"] = os.pathsep.join([str(VENV), *old])
    return env


# ---------------------------------------------------------------- builds


def build_key(mode: str) -> str:
    """What compiled code depends on: the ROS set, colcon and numpy, not every Python library.

    Adding a pure-Python dependency then re-runs pip only, not the interface builds.
    """
    pins = [line for line in lock_file().read_text().splitlines()
            if re.match(r"(?i)(ros-|colcon|numpy==|setuptools==)", line)]
    return digest(mode, sys.version_info[:2], ros_wheels_file(), pins)


def cmake_args() -> list[str]:
    return ["-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={venv_python()}", "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_INSTALL_MESSAGE=NEVER"]


def interface_present(env: dict[str, str], package: str) -> bool:
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return any(Path(p, "share/ament_index/resource_index/packages", package).exists() for p in prefixes)


def ensure_tf2_msgs(mode: str, env: dict[str, str], build: str) -> None:
    """Build tf2_msgs into the venv prefix when the ROS underneath lacks it."""
    key = digest(build, *sorted(p for p in TF2_MSGS_SRC.rglob("*") if p.is_file()))
    ours = (VENV / "share" / "tf2_msgs" / "package.xml").exists()
    if stamp_ok("tf2_msgs", key) and ours:
        return
    if not ours and interface_present(env, "tf2_msgs"):
        return  # the ROS we build against ships its own tf2_msgs
    say(f"building tf2_msgs into {VENV.name} (the wheel set has none)")
    build_dir = BUILD / "_deps" / "tf2_msgs"
    shutil.rmtree(build_dir, ignore_errors=True)
    advice = "Building tf2_msgs failed."
    run(["cmake", "-S", str(TF2_MSGS_SRC), "-B", str(build_dir), f"-DCMAKE_INSTALL_PREFIX={VENV}",
         *cmake_args()], advice, env, log_name="tf2_msgs-configure")
    run(["cmake", "--build", str(build_dir), f"-j{os.cpu_count() or 1}"], advice, env,
        show=r"^\[\s*\d+%\] Linking", log_name="tf2_msgs-build")
    run(["cmake", "--install", str(build_dir)], advice, env, log_name="tf2_msgs-install")
    stamp_write("tf2_msgs", key)


# ---------------------------------------------------------------- ROS 2 launch (ros2 launch, launch_ros)

# Upstream's pure-Python launch packages, pinned: none is on PyPI. Installed (without their
# declared dependencies, which name ROS packages by their apt names) from a folder of wheels named
# by DEXMV_LAUNCH_WHEELS, else built from these release tags when GitHub is reachable.
LAUNCH_WHEELS_ENV = "DEXMV_LAUNCH_WHEELS"
LAUNCH_PACKAGES = {  # distribution -> (version, repository, folder inside it)
    "launch": ("3.7.1", "https://github.com/ros2/launch.git", "launch"),
    "launch_xml": ("3.7.1", "https://github.com/ros2/launch.git", "launch_xml"),
    "launch_yaml": ("3.7.1", "https://github.com/ros2/launch.git", "launch_yaml"),
    "launch_ros": ("0.28.0", "https://github.com/ros2/launch_ros.git", "launch_ros"),
    "ros2launch": ("0.28.0", "https://github.com/ros2/launch_ros.git", "ros2launch"),
}
COMPOSITION_INTERFACES_SRC = ROOT / "deps" / "composition_interfaces"
LAUNCH_PROBE = "import launch, launch_ros, ros2launch.api, composition_interfaces.srv"
NO_LAUNCH_ADVICE = (
    "launch files (`ros2 launch`, `dexmv launch`) need ROS 2's launch packages, which are not on PyPI: "
    f"source a ROS 2 install before `make setup`, or set {LAUNCH_WHEELS_ENV} to a folder holding the wheels "
    "of " + ", ".join(f"{n} {v[0]}" for n, v in LAUNCH_PACKAGES.items()) + " and run `make setup` again. "
    "Everything else works without them."
)


def _launch_importable(env: dict[str, str]) -> bool:
    probe = subprocess.run([str(venv_python()), "-c", LAUNCH_PROBE], env=env, capture_output=True, text=True)
    return probe.returncode == 0


def _launch_pins_installed(env: dict[str, str]) -> bool:
    """True when the venv already holds exactly the pinned launch packages, and they import."""
    pins = {name: version for name, (version, _, _) in LAUNCH_PACKAGES.items()}
    code = ("import importlib.metadata as m, sys\n"
            f"pins = {pins!r}\n"
            "try:\n    sys.exit(0 if all(m.version(n) == v for n, v in pins.items()) else 1)\n"
            "except m.PackageNotFoundError:\n    sys.exit(1)\n")
    probe = subprocess.run([str(venv_python()), "-c", code], env=env, capture_output=True, text=True)
    return probe.returncode == 0 and _launch_importable(env)


def ensure_composition_interfaces(env: dict[str, str], build: str) -> None:
    """Build composition_interfaces (imported by launch_ros) into the venv when the ROS underneath lacks it."""
    src = COMPOSITION_INTERFACES_SRC
    key = digest(build, *sorted(p for p in src.rglob("*") if p.is_file()))
    ours = (VENV / "share" / "composition_interfaces" / "package.xml").exists()
    if stamp_ok("composition_interfaces", key) and ours:
        return
    if not ours and interface_present(env, "composition_interfaces"):
        return  # the ROS we build against ships its own
    say("building composition_interfaces into .venv (launch_ros imports it; the wheel set has none)")
    build_dir = BUILD / "_deps" / "composition_interfaces"
    shutil.rmtree(build_dir, ignore_errors=True)
    advice = "Building composition_interfaces failed."
    run(["cmake", "-S", str(src), "-B", str(build_dir), f"-DCMAKE_INSTALL_PREFIX={VENV}", *cmake_args()],
        advice, env, log_name="composition_interfaces-configure")
    run(["cmake", "--build", str(build_dir), f"-j{os.cpu_count() or 1}"], advice, env,
        show=r"^\[\s*\d+%\] Linking", log_name="composition_interfaces-build")
    run(["cmake", "--install", str(build_dir)], advice, env, log_name="composition_interfaces-install")
    stamp_write("composition_interfaces", key)


def _launch_requirements(wheel_dir: Path | None) -> list[str]:
    """pip requirement lines: pinned names from a wheel folder, or pinned git tags."""
    if wheel_dir is not None:
        return [f"{name}=={version}" for name, (version, _, _) in LAUNCH_PACKAGES.items()]
    return [f"{name} @ git+{repo}@{version}#subdirectory={folder}"
            for name, (version, repo, folder) in LAUNCH_PACKAGES.items()]


def ensure_launch(mode: str, env: dict[str, str], build: str) -> bool:
    """Make `launch`/`launch_ros`/`ros2launch` importable in the venv; False (and advice) when impossible.

    A sourced ROS 2 brings its own (nothing is installed then). Otherwise the pinned wheels come
    from $DEXMV_LAUNCH_WHEELS, else from upstream's release tags (needs git and GitHub); when
    neither works, setup goes on and says what launch files need.
    """
    if mode == "system" and _launch_importable(env):
        return True
    ensure_composition_interfaces(env, build)
    folder = os.environ.get(LAUNCH_WHEELS_ENV, "").strip()
    wheel_dir = Path(folder).expanduser().resolve() if folder else None
    if wheel_dir is not None and not any(wheel_dir.glob("launch_ros-*.whl")):
        raise SetupError(f"{LAUNCH_WHEELS_ENV}={folder} holds no launch_ros wheel: point it at the folder of "
                         f"the launch wheels ({', '.join(LAUNCH_PACKAGES)}) or unset it.")
    wheels = sorted(wheel_dir.glob("*.whl")) if wheel_dir is not None else []
    key = digest(build, sorted(LAUNCH_PACKAGES.items()), str(wheel_dir), *wheels)
    if stamp_ok("launch", key):
        return True
    if stamp_ok("launch", f"{key} unavailable"):  # said so when it was tried with these inputs: no retry
        return False
    if _launch_pins_installed(env):  # e.g. installed from wheels before, now run without the variable
        stamp_write("launch", key)
        return True
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "--no-deps"]
    if wheel_dir is not None:
        say(f"installing ROS 2 launch {LAUNCH_PACKAGES['launch'][0]} / launch_ros "
            f"{LAUNCH_PACKAGES['launch_ros'][0]} from {wheel_dir}")
        cmd += ["--no-index", "--find-links", str(wheel_dir)]
    elif shutil.which("git"):
        say(f"installing ROS 2 launch from upstream's release tags (set {LAUNCH_WHEELS_ENV} to use wheels)")
    else:
        say(f"not installing ROS 2 launch: no {LAUNCH_WHEELS_ENV} and no git. {NO_LAUNCH_ADVICE}")
        return False
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / "launch.log"
    try:
        proc = subprocess.run([*cmd, *_launch_requirements(wheel_dir)], env=dict(env, GIT_TERMINAL_PROMPT="0"),
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        log_path.write_text(proc.stdout + proc.stderr)
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        log_path.write_text("pip install of the launch packages ran over 600 s\n")
        ok = False
    if not ok:
        if wheel_dir is not None:
            raise SetupError(f"Installing the launch wheels from {wheel_dir} failed. Full output: "
                             f"{log_path.relative_to(ROOT)}")
        say(f"could not install ROS 2 launch from GitHub (log: {log_path.relative_to(ROOT)}). {NO_LAUNCH_ADVICE}")
        stamp_write("launch", f"{key} unavailable")
        return False
    if not _launch_importable(env):
        raise SetupError(f"launch was installed but `{LAUNCH_PROBE}` fails in .venv: run `make setup --force`.")
    stamp_write("launch", key)
    return True


_BUILD_FILES = ("package.xml", "setup.py", "setup.cfg", "CMakeLists.txt")
_BUILD_SUFFIXES = (".msg", ".srv", ".action")


def workspace_key(mode: str, build: str) -> str:
    """Hash of what a colcon build depends on: build files' contents and installed files' names.

    Python modules are linked (--symlink-install, `setup.py develop`), so adding or editing them
    needs no rebuild, nor do tests; adding or removing a data file (script, launch or config
    file) does, since colcon installs data files one by one.
    """
    names, contents = [], []
    for path in sorted((ROOT / "src").rglob("*")):
        rel = path.relative_to(ROOT)
        skip = ("__pycache__", "test")
        if any(part in skip or part.endswith(".egg-info") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix != ".py" or path.name.endswith(".launch.py"):
            names.append(str(rel))
        if path.name in _BUILD_FILES or path.suffix in _BUILD_SUFFIXES:
            contents.append(path)
    return digest(mode, build, names, *contents)


def ensure_workspace(mode: str, env: dict[str, str], build: str) -> bool:
    key = workspace_key(mode, build)
    if stamp_ok("colcon", key) and (INSTALL / "setup.bash").exists():
        return False
    colcon = shutil.which("colcon", path=env["PATH"])
    if colcon is None:
        raise SetupError("colcon is not installed: with a system ROS run `apt-get install "
                         "python3-colcon-common-extensions`, otherwise run `make setup` again.")
    say("building the workspace with colcon")
    run([colcon, "--log-base", str(LOG), "build", "--symlink-install", "--base-paths", "src",
         "--build-base", str(BUILD), "--install-base", str(INSTALL), "--event-handlers", "console_direct-",
         "--cmake-args", *cmake_args()],
        f"colcon build failed: the package's output is above and in {LOG.name}/latest_build/.", env)
    stamp_write("colcon", key)
    return True


# ---------------------------------------------------------------- checks of what was built

# Runs in the venv's interpreter: one line per distribution that is not as the lock says.
_CHECK_PACKAGES = r"""
import re, sys, sysconfig
from importlib import metadata
from pathlib import Path

def canon(name):
    return re.sub(r"[-_.]+", "-", name).lower()

lock, mode = sys.argv[1], sys.argv[2]
optional, required = {canon(n) for n in sys.argv[3].split(",") if n}, {canon(n) for n in sys.argv[4:]}
pins = {}
for line in open(lock):
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
    if m:
        pins[canon(m[1])] = m[2]
installed = {}
for dist in metadata.distributions():
    installed.setdefault(canon(dist.metadata["Name"] or ""), dist)
# wheels mode: the lock is the whole environment; system mode: what the requirement files name
# (less the pins only extras that were not asked for need)
for name in sorted(set(pins) - optional if mode == "wheels" else required):
    dist = installed.get(name)
    if dist is None:
        print(name, pins.get(name, ""), "not installed", sep="\t")
    elif name in pins and dist.version.split("+")[0] != pins[name]:
        print(name, pins[name], f"version {dist.version}", sep="\t")
# every distribution installed in the venv itself still has every file its RECORD lists
site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
for name, dist in installed.items():
    base = Path(str(dist.locate_file("")))
    if base.resolve() not in site or not str(dist._path).endswith(".dist-info"):
        continue
    lost = [f for f in dist.files or () if not f.name.endswith((".pyc", ".pyo"))
            and not (base / f).exists()]
    if lost:
        print(name, pins.get(name, dist.version), f"{len(lost)} file(s) gone, e.g. {lost[0]}", sep="\t")
"""


def requirement_names(mode: str, paths: list[Path] | None = None) -> list[str]:
    names = []
    for path in requirement_files(mode) if paths is None else paths:
        for line in path.read_text().splitlines():
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
            if m:
                names.append(m[1])
    return names


def damaged_packages(mode: str) -> list[tuple[str, str, str]]:
    """(name, pinned version, what is wrong) for each package of the lock that is not whole.

    Looks only at metadata and file names (about a second), not at file contents.
    """
    required = requirement_names(mode)
    unasked = [REQ / f"{e}.txt" for e in EXTRAS if e not in WANTED_EXTRAS and (REQ / f"{e}.txt").is_file()]
    optional = ",".join(n for n in requirement_names(mode, unasked) if n not in required)
    proc = subprocess.run([str(venv_python()), "-c", _CHECK_PACKAGES, str(lock_file()), mode, optional,
                           *required], capture_output=True, text=True, env=clean_environ())
    if proc.returncode != 0:
        return [("python", "", f"the venv's interpreter does not run ({proc.stderr.strip()[-200:]})")]
    return [tuple(line.split("\t")) for line in proc.stdout.splitlines() if line.strip()]  # type: ignore[misc]


def repair_python_packages(mode: str) -> bool:
    """Reinstall what damaged_packages() finds; True when something was repaired."""
    damaged = damaged_packages(mode)
    if not damaged:
        return False
    shown = "; ".join(f"{n} {why}" for n, _, why in damaged[:5]) + (" ..." if len(damaged) > 5 else "")
    say(f"{VENV.name} is damaged ({shown}): reinstalling")
    if damaged[0][0] == "python":
        raise SetupError(f"{damaged[0][2]}: run `make clean-env setup`"
                         + (f" {_make_distro_arg()}" if _SUFFIX else "") + " to recreate it.")
    pinned = [f"{n}=={v}" for n, v, _ in damaged if v]
    if pinned:
        run([str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
             "--force-reinstall", "-c", str(lock_file()), *pinned],
            "pip could not reinstall the damaged packages.", show=r"^(Successfully|ERROR)", log_name="pip-repair")
    (STAMPS / "cmake-fix").unlink(missing_ok=True)  # reinstalled ROS wheels bring their manylinux paths back
    if len(pinned) < len(damaged):  # a requirement the lock does not pin: the full install brings it back
        (STAMPS / "pip").unlink(missing_ok=True)
        ensure_python_packages(mode)
    still = damaged_packages(mode)
    if still:
        n, _, why = still[0]
        raise SetupError(f"{VENV} is still damaged after reinstalling ({n}: {why}): run `make clean-env setup`"
                         + (f" {_make_distro_arg()}" if _SUFFIX else "") + " to recreate it.")
    return True


def _make_distro_arg() -> str:
    return f"DISTRO={DISTRO}"


def import_problem(env: dict[str, str]) -> str | None:
    """Import everything the workspace promises, in a shell that sourced its setup.bash.

    None when all imports work, else the error's last line. The paths go to bash as arguments,
    never inside the command string (a checkout path may hold quotes or `$(`).
    """
    # The type support check loads each interface package's compiled C libraries, not only its Python.
    code = ("import numpy, rclpy, rclpy.executors, dexmv_msgs.msg, dexmv_msgs.srv, tf2_msgs.msg, "
            "dexmv_runtime.node_main, dexmv_bringup\n"
            "from rclpy.type_support import check_for_type_support\n"
            "for t in (dexmv_msgs.msg.HandPose, dexmv_msgs.srv.ResetEpisode, tf2_msgs.msg.TFMessage):\n"
            "    check_for_type_support(t)")
    setup_bash = INSTALL / "setup.bash"
    if not setup_bash.is_file():
        return f"{os.path.relpath(setup_bash, ROOT)} is missing"
    proc = subprocess.run(["bash", "-c", 'source "$1" && exec python -c "$2"', "dexmv-import-check",
                           str(setup_bash), code], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {proc.returncode}"


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def exclusive(path: Path):
    """Serialize setups: two shells running `make test` must not pip-install into one venv at once."""
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another setup of {DISTRO} is running in this checkout; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="ignore the recorded hashes and redo every step")
    parser.add_argument("--where", choices=("venv", "build", "install", "log"),
                        help="print the selected distribution's folder (for the Makefile and scripts) and exit")
    parser.add_argument("--clean", action="store_true",
                        help="remove the selected distribution's build, install and log folders and exit")
    parser.add_argument("--clean-env", action="store_true",
                        help="--clean, and remove the venv too if setup made it")
    parser.add_argument("--test-tools", action="store_true",
                        help="also the Debian packages only the tests use (chromium), where setup may install them")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        if args.where:
            if DISTRO not in DISTROS:
                select_mode()  # raises the error that names the known distributions
            print({"venv": VENV, "build": BUILD, "install": INSTALL, "log": LOG}[args.where])
            return 0
        # one setup at a time per distribution: the distributions share no folder they write
        with exclusive(ROOT / f".setup-{DISTRO}.lock"):
            if args.clean or args.clean_env:
                return clean(with_env=args.clean_env)
            return _setup(args, start)
    except SetupError as err:
        print(f"\nsetup failed: {err}", file=sys.stderr)
        return 1


def clean(with_env: bool) -> int:
    """`make clean` / `make clean-env`: delete what setup and colcon made for the selected distribution."""
    for path in (BUILD, INSTALL, LOG):
        if path.exists():
            say(f"removing {path.relative_to(ROOT)}")
            shutil.rmtree(path)
    if with_env and VENV.exists():
        if not venv_is_ours():
            raise SetupError(f"{VENV} was not made by `make setup` (no .dexmv/ record in it): left alone.")
        say(f"removing {VENV}")
        shutil.rmtree(VENV)
    return 0


def _setup(args: argparse.Namespace, start: float) -> int:
    """Every step in order; each returns at once when its recorded inputs are unchanged."""
    if args.force and STAMPS.is_dir():
        for stamp in STAMPS.iterdir():
            if stamp.name not in ("mode", "distro"):  # these say the venv is ours and what it holds
                stamp.unlink()
    mode, sys_python = select_mode()
    python = sys_python or sys.executable
    check_python(python, mode)
    ensure_debian_packages(python)
    if args.test_tools:
        ensure_test_packages(python)
    ensure_venv(python, mode)
    installed = ensure_python_packages(mode)
    installed = repair_python_packages(mode) or installed
    pip_key = (STAMPS / "pip").read_text().strip()
    if mode == "wheels" and (installed or not stamp_ok("cmake-fix", pip_key)):
        n = fix_cmake_exports()
        if n:
            say(f"rewrote manylinux paths in {n} CMake export files")
        stamp_write("cmake-fix", pip_key)
    write_env_files(mode)
    write_node_start_hook()
    env = build_env(mode)
    key = build_key(mode)
    ensure_tf2_msgs(mode, env, key)
    ensure_launch(mode, env, key)
    built = ensure_workspace(mode, env, key)
    ensure_imports(mode, env, key, built)
    distro = os.environ["ROS_DISTRO"] if mode == "system" else DISTRO
    say(f"ready ({mode} mode, ROS 2 {distro}, {time.monotonic() - start:.1f} s): "
        f"source {INSTALL.relative_to(ROOT)}/setup.bash")
    return 0


def ensure_imports(mode: str, env: dict[str, str], key: str, built: bool) -> None:
    """The built workspace imports; if not, rebuild it once (unless it was just built) or say how."""
    problem = import_problem(env)
    if problem is None:
        return
    if not built:
        say(f"the built workspace does not import ({problem}): rebuilding it")
        for name in ("colcon", "tf2_msgs"):
            (STAMPS / name).unlink(missing_ok=True)
        ensure_tf2_msgs(mode, env, key)
        ensure_workspace(mode, env, key)
        problem = import_problem(env)
    if problem is not None:
        make = "make clean setup" + (f" {_make_distro_arg()}" if _SUFFIX else "")
        raise SetupError(f"The built workspace does not import ({problem}): run `{make}` to rebuild it "
                         f"from scratch (or `make clean-env setup{' ' + _make_distro_arg() if _SUFFIX else ''}` "
                         "to recreate the environment too).")


if __name__ == "__main__":
    sys.exit(main())
