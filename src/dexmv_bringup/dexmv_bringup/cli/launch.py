"""`dexmv launch`: run a ROS 2 launch file with ROS's own launch service, where ros2cli is missing.

    dexmv launch capture.launch.py recording:=demo-output/recording perception:=false
    dexmv launch dexmv_bringup sim.launch.py task:=pour      # <package> <file>, as ros2 launch takes
    dexmv launch ./my_graph.launch.py                         # any launch file by path
    dexmv launch capture.launch.py --show-args                # the declared arguments and defaults

The same as `ros2 launch`: upstream's ros2launch.api.launch_a_launch_file runs the file. Ctrl-C
stops every node it started (SIGINT, then SIGTERM, then SIGKILL, as ros2 launch does).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

HELP = "run a launch file (dexmv_bringup's by name, or any path) with ROS 2's launch service"
PACKAGE = "dexmv_bringup"
NO_LAUNCH = ("ROS 2's launch packages are not importable here: source a ROS 2 install, or set DEXMV_LAUNCH_WHEELS "
             "to a folder of the launch wheels and run `make setup` (README: Launch files)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("target", nargs="+", metavar="[PACKAGE] FILE [name:=value ...]",
                        help="a launch file of dexmv_bringup (capture, sim, replay, deploy; '.launch.py' may be "
                             "left out), '<package> <file>', or a path; then launch arguments name:=value")
    parser.add_argument("-s", "--show-args", action="store_true", help="print the launch file's arguments and exit")
    parser.add_argument("-d", "--debug", action="store_true", help="launch's debug output")


def resolve(target: list[str]) -> tuple[Path, list[str]]:
    """(launch file path, launch arguments) from `[package] file name:=value ...`."""
    words = [w for w in target if ":=" not in w]
    arguments = [w for w in target if ":=" in w]
    if not words or len(words) > 2:
        raise ValueError(f"expected [PACKAGE] FILE before the name:=value arguments, got {' '.join(words) or 'none'}")
    if len(words) == 1 and Path(words[0]).is_file():
        return Path(words[0]), arguments
    package, name = (PACKAGE, words[0]) if len(words) == 1 else words
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        share = Path(get_package_share_directory(package))
    except PackageNotFoundError:
        raise ValueError(f"package {package} is not installed (source install/setup.bash)") from None
    candidates = [share / "launch" / name, share / "launch" / f"{name}.launch.py", share / name]
    for path in candidates:
        if path.is_file():
            return path, arguments
    known = sorted(p.name for p in (share / "launch").glob("*.launch.*"))
    raise ValueError(f"no launch file {name!r} in {package} (it has: {', '.join(known) or 'none'})")


def run(args: argparse.Namespace) -> int:
    try:
        path, arguments = resolve(args.target)
    except ValueError as err:
        print(f"dexmv launch: {err}", file=sys.stderr)
        return 2
    try:
        from ros2launch.api import launch_a_launch_file, print_arguments_of_launch_file
    except ImportError:
        print(f"dexmv launch: {NO_LAUNCH}", file=sys.stderr)
        return 2
    if args.show_args:
        print_arguments_of_launch_file(launch_file_path=str(path))
        return 0
    # launch stops its nodes on SIGINT through Python's own SIGINT handler (its signal manager only
    # reads the wakeup fd that handler writes); a shell's `&` starts a background job with SIGINT
    # ignored, and Python then installs none: `kill -INT` would do nothing. Stopping is the point.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return int(launch_a_launch_file(launch_file_path=str(path), launch_file_arguments=arguments,
                                    noninteractive=True, debug=args.debug) or 0)
