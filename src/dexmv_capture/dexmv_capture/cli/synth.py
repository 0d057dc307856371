"""`dexmv synth`: a synthetic two-camera D435 recording of a human hand doing a DexMV task."""

from __future__ import annotations

import argparse
import sys

HELP = "render a synthetic two-camera D435 recording (RealSense .db3 files + ground truth) of a task"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Render a procedural human hand doing a DexMV task with the simulation's objects, from the two "
        "cameras of the rig (default: the packaged top-front/top-left layout), and write per camera a "
        "RealSense recording <camera>.db3 (colour + depth aligned to colour, D435 intrinsics, noise and "
        "holes) through librealsense's software device and recorder, plus ground_truth.npz (keypoints, "
        "poses, intrinsics, extrinsics per frame) and extrinsics.yaml (for extrinsics_publisher).")
    parser.add_argument("--task", default="relocate-mustard_bottle",
                        help="relocate-<mustard_bottle|sugar_box|tomato_soup_can|large_clamp|mug>, pour or "
                             "place_inside (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="varies the hand, motion and layout (default: 0)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate (default: %(default)s)")
    parser.add_argument("--out", required=True, help="output folder (created; existing files are replaced)")
    parser.add_argument("--extrinsics", help="rig YAML (dexmv calibrate's format); default: the packaged layout")
    parser.add_argument("--detect", action="store_true",
                        help="run MediaPipe Hands on every colour frame and print the detection rate per camera")
    parser.add_argument("--board", action="store_true",
                        help="instead of a task: a ChArUco board on the table (dexmv calibrate's defaults: 8x6 "
                             "squares of 0.05 m, markers 0.037 m, DICT_5X5_100) seen by every camera, to try "
                             "`dexmv calibrate` on; extrinsics.yaml holds the true rig")
    parser.add_argument("--board-frames", type=int, default=5, help="--board: frames per camera (default: 5)")
    parser.add_argument("--board-center", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                        help="--board: board centre on the table in world, m (default: 0 0)")
    parser.add_argument("--board-yaw", type=float, default=0.0, help="--board: board yaw about world z, degrees")
    parser.add_argument("--no-pace", action="store_true",
                        help="write frames as fast as possible (recorder wall-clock timing then differs from the "
                             "frame timestamps; our reader uses the timestamps either way)")


def _check(args: argparse.Namespace) -> None:
    """Arguments that can be checked before rendering anything (raises ValueError, one line)."""
    from pathlib import Path

    from dexmv_capture.synthetic.hand_motion import TASKS

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if args.board:
        if args.board_frames < 1:
            raise ValueError(f"--board-frames must be at least 1, got {args.board_frames}")
    elif args.task not in TASKS:
        raise ValueError(f"unknown task {args.task!r}; tasks: {', '.join(TASKS)}")
    if not (args.seconds > 0 and args.fps > 0):
        raise ValueError(f"--seconds and --fps must be positive, got {args.seconds} and {args.fps}")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dexmv_capture.calibration import CalibrationError
    from dexmv_capture.extrinsics import ExtrinsicsError, load_extrinsics
    from dexmv_capture.recording import RecordingError
    from dexmv_capture.synthetic.hand_motion import MotionError

    try:
        _check(args)
        rig = load_extrinsics(args.extrinsics) if args.extrinsics else None
        if args.board:
            from dexmv_capture.synthetic.board import synthesize_board

            written = synthesize_board(args.out, rig=rig, frames=args.board_frames, fps=args.fps, seed=args.seed,
                                       center_xy=tuple(args.board_center), yaw_deg=args.board_yaw)
            for cam, path in written.items():
                print(f"{cam}: {path}")
            cams = " ".join(f"{c}={p}" for c, p in written.items())
            print(f"true extrinsics: {args.out}/extrinsics.yaml\ntry: dexmv calibrate {cams} --out measured.yaml"
                  + (f" --board-center {args.board_center[0]} {args.board_center[1]}" if any(args.board_center)
                     else "") + (f" --board-yaw {args.board_yaw}" if args.board_yaw else ""))
            return 0
        from dexmv_capture.synthetic.synthesize import synthesize

        with tqdm(total=round(args.seconds * args.fps), unit="frame", desc=f"rendering {args.task}") as bar:
            result = synthesize(args.task, args.seconds, args.seed, args.out, fps=args.fps, rig=rig,
                                detect=args.detect, pace=not args.no_pace,
                                progress=lambda done, total: bar.update(done - bar.n))
    except (MotionError, ExtrinsicsError, RecordingError, CalibrationError, ValueError) as err:
        print(f"dexmv synth: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. no permission: one line naming the path, not an errno dump
        where = f"{err.filename}: " if err.filename else ""
        print(f"dexmv synth: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    for cam, path in result.recordings.items():
        print(f"{cam}: {path}")
    print(f"ground truth: {result.ground_truth}\nextrinsics: {result.extrinsics}\nframes: {result.frames}")
    for cam, rate in result.detection_rate.items():
        print(f"MediaPipe hand detection rate {cam}: {rate:.1%}")
    return 0
