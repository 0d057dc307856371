"""`dexmv view`: look at a recording, bag, dataset, demonstration or training run with Rerun (no RViz needed).

    dexmv view demo-output/recording                 # both cameras, depth, 3D hand, objects, robot hand
    dexmv view bags/capture-0001                     # a rosbag2 folder: images, TF, hand/object poses, joints
    dexmv view demo-output/demonstration.npz         # the robot hand replaying a demonstration
    dexmv view ~/.minari/datasets/relocate-v0 --episode 3   # one episode of a Minari dataset
    dexmv view runs/dapg-relocate                    # training curves from metrics.csv
    dexmv view demo-output/recording --save rec.rrd  # headless: write a .rrd, open it later with `rerun rec.rrd`
    dexmv view demo-output/recording --web           # serve the web viewer on 127.0.0.1:9090 until Ctrl-C

Without --save it starts Rerun's viewer (a native window); --web serves Rerun's web viewer over
HTTP instead (for a machine without a display; --bind 0.0.0.0 to reach it from another machine).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

HELP = "show a recording, bag, dataset, demonstration or training run in Rerun (--save x.rrd: headless)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", help="recording folder, rosbag2 folder, Minari dataset folder, demonstration .npz "
                                       "or run folder")
    parser.add_argument("--save", metavar="FILE.rrd", help="write the Rerun recording to this file instead of "
                                                           "opening a viewer")
    parser.add_argument("--web", action="store_true",
                        help="serve Rerun's web viewer over HTTP instead of a native window, until Ctrl-C "
                             "(for a machine without a display: open the printed URL in a browser)")
    parser.add_argument("--bind", default="127.0.0.1",
                        help="--web: address to listen on (default: %(default)s, this machine only; 0.0.0.0 shares "
                             "it with the network)")
    parser.add_argument("--web-port", type=int, default=9090,
                        help="--web: the viewer's HTTP port (default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=9876,
                        help="--web: the port the viewer loads the data from (default: %(default)s)")
    parser.add_argument("--max-frames", type=int, help="recordings: only the first N frames per camera")
    parser.add_argument("--episode", type=int, default=0, help="datasets: which episode (default: 0)")


def run(args: argparse.Namespace) -> int:
    from dexmv_bringup.bag_playback import BagError
    from dexmv_bringup.rerun_log import ViewError, detect_kind

    source = Path(args.source).expanduser()
    if not source.exists():
        print(f"dexmv view: {source} does not exist", file=sys.stderr)
        return 2
    if args.save and not args.save.endswith(".rrd"):
        print(f"dexmv view: --save {args.save}: the file name must end in .rrd", file=sys.stderr)
        return 2
    try:
        kind = detect_kind(source)
    except ViewError as err:
        print(f"dexmv view: {err}", file=sys.stderr)
        return 2
    import rerun as rr
    from tqdm import tqdm

    from dexmv_bringup import rerun_log

    rr.init(f"dexmv view {source.name}", spawn=False)
    save = args.save
    if args.web and not save:  # logged to a file first, then served whole: nothing is lost to a late browser
        import tempfile

        save = str(Path(tempfile.mkdtemp(prefix="dexmv-view-")) / f"{source.name}.rrd")
    if save:
        rr.save(save)
    else:
        rr.spawn()
    try:
        with tqdm(unit="msg" if kind == "bag" else "frame", desc=f"logging {kind}", leave=False) as bar:
            if kind == "recording":
                n = rerun_log.log_recording(rr, source, args.max_frames, progress=bar.update)
            elif kind == "bag":
                n = rerun_log.log_bag(rr, source, progress=bar.update)
            elif kind == "dataset":
                n = rerun_log.log_dataset(rr, source, args.episode)
            elif kind == "demonstration":
                n = rerun_log.log_demonstration(rr, source)
            else:
                n = rerun_log.log_run(rr, source)
    except (ViewError, BagError, OSError) as err:
        rr.disconnect()
        if save:
            Path(save).unlink(missing_ok=True)  # no half-written recording left behind
        print(f"dexmv view: {err}", file=sys.stderr)
        return 2
    rr.disconnect()
    unit = {"bag": "messages", "run": "rows", "dataset": "steps"}.get(kind, "frames")
    print(f"{kind} {source}: {n} {unit}" + (f" -> {args.save}" if args.save else ""), flush=True)
    if args.web:
        return serve_web_viewer(Path(save), args.bind, args.web_port, args.grpc_port,
                                keep=bool(args.save))
    return 0


def web_viewer_url(bind: str, web_port: int, grpc_port: int) -> str:
    """The address that opens Rerun's web viewer on the data served at grpc_port."""
    from urllib.parse import quote

    host = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
    return f"http://{host}:{web_port}/?url={quote(f'rerun+http://{host}:{grpc_port}/proxy', safe='')}"


def serve_web_viewer(rrd: Path, bind: str, web_port: int, grpc_port: int, keep: bool) -> int:
    """Rerun's own server (`rerun --serve-web`) on a finished .rrd, until Ctrl-C or until it exits."""
    import importlib.util
    import os
    import subprocess

    # The rerun binary itself (the `rerun` script and `python -m rerun` run it as a child of their own,
    # which terminating them would leave serving); RERUN_CLI_PATH overrides it, as for those.
    spec = importlib.util.find_spec("rerun_cli")
    binary = os.environ.get("RERUN_CLI_PATH") or str(Path(spec.origin).parent / "rerun")
    cmd = [binary, "--serve-web", "--bind", bind, "--port", str(grpc_port), "--web-viewer-port", str(web_port),
           str(rrd)]
    # Ctrl-C and SIGTERM (`kill`, a process manager) both stop the server with this command: Python's
    # own KeyboardInterrupt handler for both, set explicitly, so a SIGINT that a non-interactive
    # shell's `&` made ignored still works
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    proc = subprocess.Popen(cmd)
    print(f"Rerun web viewer: {web_viewer_url(bind, web_port, grpc_port)} (Ctrl-C stops it)", flush=True)
    try:
        code = proc.wait()
        if code != 0:
            print(f"dexmv view: the Rerun server exited {code} (ports {web_port}/{grpc_port} in use? "
                  "choose others with --web-port/--grpc-port)", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a server that ignores SIGTERM is not left behind
            proc.kill()
            proc.wait()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not keep:
            rrd.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                rrd.parent.rmdir()
