"""`dexmv calibrate`: camera poses in `world` from a ChArUco board on the table seen by every camera.

No board recording at hand? `dexmv synth --board --out cal` renders one per camera of the rig.
"""

from __future__ import annotations

import argparse
import sys

HELP = "extrinsic calibration: ChArUco board on the table seen by each camera -> extrinsics YAML + check PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Detect a ChArUco board lying face up on the table in recordings of each camera, estimate each "
        "camera's pose with the recorded intrinsics, and write the extrinsics YAML that extrinsics_publisher "
        "puts on /tf_static. The board's centre is at --board-center (default: the world origin) and its "
        "printed x axis along world x rotated by --board-yaw. To try it without a camera: "
        "`dexmv synth --board --out cal` renders board recordings of the default rig (cal/camera1.db3, "
        "cal/camera2.db3) and their true extrinsics (cal/extrinsics.yaml) to compare with.")
    parser.add_argument("cameras", nargs="+", metavar="NAME=RECORDING",
                        help="camera name and its recording (.db3/.bag), e.g. camera1=cal1.db3 camera2=cal2.db3")
    parser.add_argument("--out", required=True, help="extrinsics YAML to write")
    parser.add_argument("--png", help="check image with detected corners and axes (default: <out>.png)")
    parser.add_argument("--frames", type=int, default=10,
                        help="frames per recording to use, spread over it; only these are held in memory "
                             "(default: 10)")
    parser.add_argument("--squares", type=int, nargs=2, default=(8, 6), metavar=("X", "Y"),
                        help="squares across and down (default: 8 6)")
    parser.add_argument("--square", type=float, default=0.05, help="square side, m (default: 0.05)")
    parser.add_argument("--marker", type=float, default=0.037, help="marker side, m (default: 0.037)")
    parser.add_argument("--dictionary", default="DICT_5X5_100", help="ArUco dictionary (default: DICT_5X5_100)")
    parser.add_argument("--board-center", type=float, nargs=2, default=(0.0, 0.0), metavar=("X", "Y"),
                        help="board centre on the table in world, m (default: 0 0)")
    parser.add_argument("--board-yaw", type=float, default=0.0, help="board yaw about world z, degrees")


def _check_arguments(args: argparse.Namespace):
    """Everything that can be wrong before any recording is read, as CalibrationError (one line)."""
    from pathlib import Path

    from dexmv_capture.calibration import BoardSpec, CalibrationError
    from dexmv_capture.extrinsics import check_camera_name

    if any(n < 2 for n in args.squares):
        raise CalibrationError(f"--squares: a ChArUco board has at least 2 squares each way, got {args.squares}")
    if not (args.square > 0 and args.marker > 0):
        raise CalibrationError(f"--square and --marker must be positive (metres), got {args.square}, {args.marker}")
    if args.frames < 1:
        raise CalibrationError(f"--frames must be at least 1, got {args.frames}")
    for option, path in (("--out", args.out), ("--png", args.png)):
        if path and not Path(path).resolve().parent.is_dir():
            raise CalibrationError(f"{option} {path}: folder {Path(path).resolve().parent} does not exist")
    cameras: dict[str, str] = {}
    for item in args.cameras:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise CalibrationError(f"{item!r}: expected NAME=RECORDING, e.g. camera1=cal1.db3")
        check_camera_name(name)
        if name in cameras:
            raise CalibrationError(f"camera {name!r} is given twice ({cameras[name]} and {path})")
        cameras[name] = path
    spec = BoardSpec(args.squares[0], args.squares[1], args.square, args.marker, args.dictionary)
    spec.board()
    return spec, cameras


def _picked_frames(path: str, count: int):
    """(intrinsics, depth_to_color, frames) of `count` frames spread over the recording, holding only those."""
    import numpy as np

    from dexmv_capture.calibration import CalibrationError
    from dexmv_capture.recording import RecordingReader

    with RecordingReader(path) as reader:
        total = reader.expected_frames
        intr = reader.info.stream("color").intrinsics
        depth_to_color = reader.depth_to_color
    if total is None:  # a legacy .bag: count it first
        with RecordingReader(path) as reader:
            total = sum(1 for _ in reader)
    if total == 0:
        raise CalibrationError(f"{path}: no frames")
    picks = set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist())
    with RecordingReader(path) as reader:
        frames = [frame for k, frame in enumerate(reader) if k in picks]
    return intr, depth_to_color, frames


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexmv_capture.calibration import (
        CalibrationError,
        camera_extrinsics,
        detect_board,
        draw_detection,
        world_from_board,
    )
    from dexmv_capture.extrinsics import ExtrinsicsError, save_extrinsics
    from dexmv_capture.recording import RecordingError
    from dexmv_capture.rig import link_from_color_optical

    results, sheets = [], []
    try:
        spec, cameras = _check_arguments(args)
        board_pose = world_from_board(args.board_center, args.board_yaw, spec)
        for name, path in cameras.items():
            intr, depth_to_color, frames = _picked_frames(path, args.frames)
            detections = [(f, detect_board(f.color, intr, spec)) for f in frames]
            views = [v for _, v in detections if v is not None]
            if not views:
                raise CalibrationError(f"{name} ({path}): the board was not found in {len(frames)} frames; "
                                       "check --squares/--square/--marker/--dictionary")
            # the link sits at the depth sensor, as realsense2_camera and camera_node place it
            cam = camera_extrinsics(name, views, board_pose, link_from_optical=link_from_color_optical(depth_to_color))
            results.append(cam)
            first = next(f for f, v in detections if v is not None)
            sheets.append(draw_detection(first.color, views[0], intr, spec))
            print(f"{name}: {len(views)}/{len(frames)} frames, {cam.extra['corners']} corners, "
                  f"rms {cam.extra['rms_reprojection_px']:.2f} px, position {np.round(cam.translation, 4).tolist()}")
    except (CalibrationError, RecordingError, ExtrinsicsError) as err:
        print(f"dexmv calibrate: {err}", file=sys.stderr)
        return 2
    save_extrinsics(args.out, results)
    png = args.png or f"{args.out}.png"
    from PIL import Image

    Image.fromarray(np.concatenate(sheets, axis=1)).save(png)
    print(f"wrote {args.out} and {png}")
    return 0
