"""Retarget human hand keypoints (T, 21, 3) to Adroit joint targets (T, 30): DexMV Sec. 3.2.

Input: .npy (T, 21, 3) in metres in DESIGN.md keypoint order (0 wrist, 1-4 thumb, 5-8 index,
9-12 middle, 13-16 ring, 17-20 little), NaN for missing keypoints; or (T, 21, 4) with a
per-keypoint confidence last; or .npz with `keypoints` and optional `confidence`. Keypoints are
taken to be in the world (table) frame unless --transform gives world <- their frame.

Output: .npy (T, 30) joint positions in the order of dexmv_sim.adroit.ADROIT_JOINTS (ARTx ARTy
ARTz ARRx ARRy ARRz WRJ1 WRJ0 FFJ3 ... THJ0), always within the joint limits and never NaN.
Frames without usable palm keypoints hold the last good solution (reported in the summary and
in --diagnostics).

examples:
  dexmv retarget --input demo_keypoints.npy --output demo_joints.npy --plot demo.png
  dexmv retarget --input cam1.npz --transform "0.5 0 0.6 0 0.707 0 0.707" --fps 30 --output j.npy
  dexmv retarget --input teleop.npy --fingers-only --output fingers.npy
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "retarget human hand keypoints (.npy T x 21 x 3) to Adroit joint targets (.npy T x 30)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="keypoints .npy (T,21,3) or (T,21,4 with confidence) or .npz")
    parser.add_argument("--output", required=True, help="joints .npy (T,30) to write")
    parser.add_argument("--transform", help="world <- input frame: a 4x4 matrix file (.npy or text) or seven "
                                            "numbers 'x y z qx qy qz qw' (default: input is in world)")
    parser.add_argument("--left-hand", action="store_true",
                        help="the keypoints are of a left hand: retarget its mirror image (Adroit is a right hand)")
    parser.add_argument("--fingers-only", action="store_true",
                        help="hold the arm and wrist (--held-arm), retarget the fingers relative to the palm")
    parser.add_argument("--held-arm", type=float, nargs=8, metavar="Q",
                        help="ARTx ARTy ARTz ARRx ARRy ARRz WRJ1 WRJ0 held in fingers-only mode (default 0)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the input (default: %(default)s)")
    parser.add_argument("--filter-cutoff", type=float, default=0.0, metavar="HZ",
                        help="causal low-pass (Butterworth, 2nd order) on the joints; 0 (default) disables it. "
                             "6-8 Hz removes perception jitter at the price of ~1 frame of lag")
    parser.add_argument("--min-confidence", type=float, default=0.3,
                        help="keypoints below this confidence count as missing (default: %(default)s)")
    parser.add_argument("--calibrate", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the hand size over the whole file first (default); --no-calibrate uses "
                             "the running estimate of the live node")
    parser.add_argument("--shape-weight", type=float, default=0.3,
                        help="weight of the MCP-to-PIP shape vectors; 0 gives the paper's ten vectors only "
                             "(default: %(default)s)")
    parser.add_argument("--plot", metavar="PNG", help="write human vs robot vectors and joint trajectories")
    parser.add_argument("--diagnostics", metavar="CSV", help="write per-frame status, error, time, message")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexmv_retarget.hand_keypoints import KeypointInputError, transform_points
    from dexmv_retarget.keypoint_files import load_keypoints, parse_transform
    from dexmv_retarget.palm_frame import mirror_hand
    from dexmv_retarget.retargeter import FrameStatus, RetargetConfig, Retargeter, vector_errors_mm

    out = Path(args.output)
    if out.resolve() == Path(args.input).resolve():
        print(f"error: --output {out} is the input file; refusing to overwrite it", file=sys.stderr)
        return 2
    if out.suffix != ".npy":
        print(f"error: --output {out} must end in .npy", file=sys.stderr)
        return 2
    try:
        keypoints, confidence = load_keypoints(args.input)
        if args.transform:
            keypoints = transform_points(keypoints, parse_transform(args.transform))
        if args.left_hand:
            keypoints = mirror_hand(keypoints)
        cutoff = args.filter_cutoff
        config = RetargetConfig(
            fingers_only=args.fingers_only, held_arm=tuple(args.held_arm) if args.held_arm else None,
            min_confidence=args.min_confidence, fps=args.fps, filter_cutoff_hz=cutoff or None,
            shape_weight=args.shape_weight)
        retargeter = Retargeter(config)
        if args.calibrate:
            retargeter.calibrate(keypoints, confidence, source=args.input)
        result = retargeter.retarget(keypoints, confidence, progress=not args.no_progress, source=args.input)
    except (KeypointInputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, result.joints)
    status = result.status
    output_error = vector_errors_mm(retargeter.kin, result.joints, result)
    summary = {
        "input": str(args.input),
        "output": str(out),
        "frames": len(status),
        "held_frames": int((status == FrameStatus.HELD).sum()),
        "partial_frames": int((status == FrameStatus.PARTIAL).sum()),
        "tsv_error_mm": result.tsv_error_mm if np.isfinite(result.tsv_error_mm) else None,
        "tsv_error_mm_filtered": float(np.nanmean(output_error)) if np.isfinite(output_error).any() else None,
        "ms_per_frame": float(1000 * result.solve_time_s.mean()),
        "max_limit_violation": retargeter.kin.limit_violation(result.joints),
        "filter_cutoff_hz": cutoff or None,
        "fingers_only": bool(args.fingers_only),
    }
    if args.diagnostics:
        import csv

        with open(args.diagnostics, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["frame", "status", "tsv_error_mm", "solve_ms", "iterations", "message"])
            for t in range(len(status)):
                err = np.nanmean(result.vector_error_mm[t]) if np.isfinite(result.vector_error_mm[t]).any() else ""
                writer.writerow([t, FrameStatus(status[t]).name, err, f"{1000 * result.solve_time_s[t]:.3f}",
                                 int(result.iterations[t]), result.messages[t]])
    if args.plot:
        from dexmv_retarget.plotting import plot_trajectory

        summary["plot"] = str(plot_trajectory(args.plot, retargeter.kin, result, args.fps))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out}: {summary['frames']} frames x 30 joints "
              f"({summary['held_frames']} held, {summary['partial_frames']} with missing keypoints)")
        def mm(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f} mm"

        print(f"task-vector error {mm(summary['tsv_error_mm'])} (of the output after the filter: "
              f"{mm(summary['tsv_error_mm_filtered'])}), {summary['ms_per_frame']:.3f} ms/frame, "
              f"max limit violation {summary['max_limit_violation']:g}")
        if args.plot:
            print(f"plot: {summary['plot']}")
    return 0
