"""`dexmv calibrate`: camera poses in `world` from a ChArUco board on the table seen by every camera."""

from __future__ import annotations

import argparse
import sys

HELP = "extrinsic calibration: ChArUco board on the table seen by each camera -> extrinsics YAML + check PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Detect a ChArUco board lying face up on the table in recordings of each camera, estimate each "
        "camera's pose with the recorded intrinsics, and write the extrinsics YAML that extrinsics_publisher "
        "puts on /tf_static. The board's centre is at --board-center (default: the world origin) and its "
        "printed x axis along world x rotated by --board-yaw.")
    parser.add_argument("cameras", nargs="+", metavar="NAME=RECORDING",
                        help="camera name and its recording (.db3/.bag), e.g. camera1=cal1.db3 camera2=cal2.db3")
    parser.add_argument("--out", required=True, help="extrinsics YAML to write")
    parser.add_argument("--png", help="check image with detected corners and axes (default: <out>.png)")
    parser.add_argument("--frames", type=int, default=10, help="frames per recording to use (default: 10)")
    parser.add_argument("--squares", type=int, nargs=2, default=(8, 6), metavar=("X", "Y"),
                        help="squares across and down (default: 8 6)")
    parser.add_argument("--square", type=float, default=0.05, help="square side, m (default: 0.05)")
    parser.add_argument("--marker", type=float, default=0.037, help="marker side, m (default: 0.037)")
    parser.add_argument("--dictionary", default="DICT_5X5_100", help="ArUco dictionary (default: DICT_5X5_100)")
    parser.add_argument("--board-center", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                        help="board centre on the table in world, m (default: 0 0)")
    parser.add_argument("--board-yaw", type=float, default=0.0, help="board yaw about world z, degrees")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexmv_capture.calibration import (
        BoardSpec,
        CalibrationError,
        camera_extrinsics,
        detect_board,
        draw_detection,
        world_from_board,
    )
    from dexmv_capture.extrinsics import save_extrinsics
    from dexmv_capture.recording import RecordingError, RecordingReader

    spec = BoardSpec(args.squares[0], args.squares[1], args.square, args.marker, args.dictionary)
    board_pose = world_from_board(args.board_center, args.board_yaw, spec)
    results, sheets = [], []
    try:
        spec.board()
        for item in args.cameras:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise CalibrationError(f"{item!r}: expected NAME=RECORDING, e.g. camera1=cal1.db3")
            with RecordingReader(path) as reader:
                frames = list(reader)
                intr = reader.info.stream("color").intrinsics
            if not frames:
                raise CalibrationError(f"{path}: no frames")
            picks = np.linspace(0, len(frames) - 1, min(args.frames, len(frames))).round().astype(int)
            views = [v for v in (detect_board(frames[i].color, intr, spec) for i in picks) if v is not None]
            if not views:
                raise CalibrationError(f"{name} ({path}): the board was not found in {len(picks)} frames; "
                                       "check --squares/--square/--marker/--dictionary")
            cam = camera_extrinsics(name, views, board_pose)
            results.append(cam)
            sheets.append(draw_detection(frames[picks[0]].color, views[0], intr, spec))
            print(f"{name}: {len(views)}/{len(picks)} frames, {cam.extra['corners']} corners, "
                  f"rms {cam.extra['rms_reprojection_px']:.2f} px, position {np.round(cam.translation, 4).tolist()}")
    except (CalibrationError, RecordingError) as err:
        print(f"dexmv calibrate: {err}", file=sys.stderr)
        return 2
    save_extrinsics(args.out, results)
    png = args.png or f"{args.out}.png"
    from PIL import Image

    Image.fromarray(np.concatenate(sheets, axis=1)).save(png)
    print(f"wrote {args.out} and {png}")
    return 0
