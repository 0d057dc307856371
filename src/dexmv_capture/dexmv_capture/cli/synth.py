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
    parser.add_argument("--no-pace", action="store_true",
                        help="write frames as fast as possible (recorder wall-clock timing then differs from the "
                             "frame timestamps; our reader uses the timestamps either way)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dexmv_capture.extrinsics import ExtrinsicsError, load_extrinsics
    from dexmv_capture.recording import RecordingError
    from dexmv_capture.synthetic.hand_motion import MotionError
    from dexmv_capture.synthetic.synthesize import synthesize

    try:
        rig = load_extrinsics(args.extrinsics) if args.extrinsics else None
        bar = tqdm(total=round(args.seconds * args.fps), unit="frame", desc=f"rendering {args.task}")

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        result = synthesize(args.task, args.seconds, args.seed, args.out, fps=args.fps, rig=rig, detect=args.detect,
                            pace=not args.no_pace, progress=progress)
        bar.close()
    except (MotionError, ExtrinsicsError, RecordingError, OSError) as err:
        print(f"dexmv synth: {err}", file=sys.stderr)
        return 2
    for cam, path in result.recordings.items():
        print(f"{cam}: {path}")
    print(f"ground truth: {result.ground_truth}\nextrinsics: {result.extrinsics}\nframes: {result.frames}")
    for cam, rate in result.detection_rate.items():
        print(f"MediaPipe hand detection rate {cam}: {rate:.1%}")
    return 0
