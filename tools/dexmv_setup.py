#!/usr/bin/env python3
"""Set up the DexMV workspace from nothing, and skip every step whose inputs did not change.

`make setup` runs this with the Python that will own the virtual environment. It uses only the
standard library because it runs before anything is installed. Each step records a hash of its
inputs under `.venv/.dexmv/`; a second run with unchanged inputs only compares hashes.

Two modes:
- wheels (default): ROS 2 Kilted from PyPI wheels inside `.venv`, which then acts as the ROS
  underlay prefix (like /opt/ros/<distro>).
- system: a ROS 2 install is sourced (`ROS_DISTRO` set and its rclpy importable); `.venv` sees the
  system site-packages and the workspace builds against that ROS instead.
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
VENV = Path(os.environ.get("DEXMV_VENV", ROOT / ".venv")).resolve()
STAMPS = VENV / ".dexmv"
REQ = ROOT / "requirements"
TF2_MSGS_SRC = ROOT / "deps" / "tf2_msgs"

# Debian packages (name -> what needs it). Checked with dpkg where dpkg exists.
DEBIAN_PACKAGES = {
    "libusb-1.0-0": "pyrealsense2 (camera access and recordings)",
    "libegl1": "headless MuJoCo rendering with MUJOCO_GL=egl",
    "libgl1-mesa-dri": "the Mesa software renderer behind EGL",
    "cmake": "building the interface packages",
    "g++": "building the interface packages",
}
WHEEL_PYTHON = (3, 11)


class SetupError(RuntimeError):
    """A setup failure with one sentence that tells the user what to do."""


def say(msg: str) -> None:
    print(f"[setup] {msg}", flush=True)


LOGS = ROOT / "log" / "setup"


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
        raise SetupError(f"{what} Full output: {log_path.relative_to(ROOT)}")


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
    python3 with an rclpy that does not live in our own venv (so sourcing our own environment
    never looks like a system ROS).
    """
    if not os.environ.get("ROS_DISTRO"):
        return None
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(VENV))
    )
    python = shutil.which("python3", path=env["PATH"])
    if python is None:
        return None
    probe = subprocess.run(
        [python, "-c", "import rclpy, os; print(os.path.realpath(rclpy.__file__))"],
        env=env, capture_output=True, text=True,
    )
    if probe.returncode != 0 or probe.stdout.strip().startswith(str(VENV)):
        return None
    return python


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


def missing_debian_packages(python: str) -> list[str]:
    """Debian packages the stack needs that are not installed (functional checks off Debian)."""
    missing: list[str] = []
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


def ensure_debian_packages(python: str) -> None:
    missing = missing_debian_packages(python)
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
    still = missing_debian_packages(python)
    if still:
        raise SetupError(f"Installed Debian packages but {', '.join(still)} still missing: install them by hand.")


# ---------------------------------------------------------------- virtual environment


def venv_python() -> Path:
    return VENV / "bin" / "python"


def requirement_files(mode: str) -> list[Path]:
    files = sorted(REQ.glob("*.txt"))
    files = [f for f in files if f.name != "constraints.txt"]
    if mode == "system":
        files = [f for f in files if f.name != "ros-wheels.txt"]
    return files


def ensure_venv(python: str, mode: str) -> None:
    recorded = STAMPS / "mode"
    if VENV.exists() and (not venv_python().exists() or not recorded.is_file()
                          or recorded.read_text().strip() != mode):
        say(f"recreating {VENV.name} for the '{mode}' mode")
        shutil.rmtree(VENV)
        for d in ("build", "install"):
            shutil.rmtree(ROOT / d, ignore_errors=True)
    if not venv_python().exists():
        say(f"creating {VENV} with {python}")
        cmd = [python, "-m", "venv", str(VENV)]
        if mode == "system":
            cmd.append("--system-site-packages")
        run(cmd, f"Could not create the virtual environment with {python}: install its venv module "
            "(apt-get install python3.11-venv).")
        stamp_write("mode", mode)


def ensure_python_packages(mode: str) -> bool:
    files = requirement_files(mode)
    constraints = REQ / "constraints.txt"
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


def build_env(mode: str) -> dict[str, str]:
    """The environment colcon and CMake run in: the venv first, then whatever ROS is sourced."""
    env = dict(os.environ)
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
    pins = [line for line in (REQ / "constraints.txt").read_text().splitlines()
            if re.match(r"(?i)(ros-|colcon|numpy==|setuptools==)", line)]
    return digest(mode, sys.version_info[:2], REQ / "ros-wheels.txt", pins)


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
    say("building tf2_msgs into .venv (the wheel set has none)")
    build_dir = ROOT / "build" / "_deps" / "tf2_msgs"
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
    build_dir = ROOT / "build" / "_deps" / "composition_interfaces"
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
    if stamp_ok("colcon", key) and (ROOT / "install" / "setup.bash").exists():
        return False
    colcon = shutil.which("colcon", path=env["PATH"])
    if colcon is None:
        raise SetupError("colcon is not installed: with a system ROS run `apt-get install "
                         "python3-colcon-common-extensions`, otherwise run `make setup` again.")
    say("building the workspace with colcon")
    run([colcon, "build", "--symlink-install", "--base-paths", "src", "--event-handlers", "console_direct-",
         "--cmake-args", *cmake_args()],
        "colcon build failed: the package's output is above and in log/latest_build/.", env)
    stamp_write("colcon", key)
    return True


def smoke_check() -> None:
    """One import of everything the workspace promises, in a shell that sourced install/setup.bash."""
    code = "import rclpy, dexmv_msgs.msg, dexmv_msgs.srv, tf2_msgs.msg, dexmv_bringup"
    proc = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/install/setup.bash" && python -c "{code}"'],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SetupError(f"The built environment does not import ({proc.stderr.strip().splitlines()[-1:]}): "
                         "run `make clean-env setup`.")


# ---------------------------------------------------------------- main


@contextlib.contextmanager
def exclusive(path: Path):
    """Serialize setups: two shells running `make test` must not pip-install into one venv at once."""
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another setup is running in this checkout; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="ignore the recorded hashes and redo every step")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        with exclusive(ROOT / ".setup.lock"):
            return _setup(args, start)
    except SetupError as err:
        print(f"\nsetup failed: {err}", file=sys.stderr)
        return 1


def _setup(args: argparse.Namespace, start: float) -> int:
    """Every step in order; each returns at once when its recorded inputs are unchanged."""
    if args.force:
        shutil.rmtree(STAMPS, ignore_errors=True)
    sys_python = system_ros_python()
    mode = "system" if sys_python else "wheels"
    python = sys_python or sys.executable
    check_python(python, mode)
    ensure_debian_packages(python)
    ensure_venv(python, mode)
    installed = ensure_python_packages(mode)
    pip_key = (STAMPS / "pip").read_text().strip()
    if mode == "wheels" and (installed or not stamp_ok("cmake-fix", pip_key)):
        n = fix_cmake_exports()
        if n:
            say(f"rewrote manylinux paths in {n} CMake export files")
        stamp_write("cmake-fix", pip_key)
    write_env_files(mode)
    env = build_env(mode)
    key = build_key(mode)
    ensure_tf2_msgs(mode, env, key)
    ensure_launch(mode, env, key)
    if ensure_workspace(mode, env, key):
        smoke_check()
    say(f"ready ({mode} mode, {time.monotonic() - start:.1f} s): source install/setup.bash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
