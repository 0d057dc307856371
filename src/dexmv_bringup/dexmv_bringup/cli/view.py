"""`dexmv view`: look at a recording, bag, dataset, demonstration or training run with Rerun (no RViz needed).

    dexmv view demo-output/recording                 # both cameras, depth, 3D hand, objects, robot hand
    dexmv view bags/capture-0001                     # a rosbag2 folder: images, TF, hand/object poses, joints
    dexmv view demo-output/demonstration.npz         # the robot hand replaying a demonstration
    dexmv view ~/.minari/datasets/relocate-v0 --episode 3   # one episode of a Minari dataset
    dexmv view runs/dapg-relocate                    # training curves from metrics.csv
    dexmv view demo-output/recording --save rec.rrd  # headless: write a .rrd, open it later with `rerun rec.rrd`

Without --save it starts Rerun's viewer (a native window; --web serves the web viewer instead).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "show a recording, bag, dataset, demonstration or training run in Rerun (--save x.rrd: headless)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", help="recording folder, rosbag2 folder, Minari dataset folder, demonstration .npz "
                                       "or run folder")
    parser.add_argument("--save", metavar="FILE.rrd", help="write the Rerun recording to this file instead of "
                                                           "opening a viewer")
    parser.add_argument("--web", action="store_true", help="serve Rerun's web viewer instead of a native window")
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
    if args.save:
        rr.save(args.save)
    elif args.web:
        rr.serve_web()
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
        if args.save:
            Path(args.save).unlink(missing_ok=True)  # no half-written recording left behind
        print(f"dexmv view: {err}", file=sys.stderr)
        return 2
    rr.disconnect()
    unit = {"bag": "messages", "run": "rows", "dataset": "steps"}.get(kind, "frames")
    print(f"{kind} {source}: {n} {unit}" + (f" -> {args.save}" if args.save else ""))
    return 0
