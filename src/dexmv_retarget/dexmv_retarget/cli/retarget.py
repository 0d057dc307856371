"""Retarget human hand keypoints (T, 21, 3) to Adroit joint targets (T, 30): DexMV Sec. 3.2.

Input: .npy (T, 21, 3) in metres in keypoint order (0 wrist, 1-4 thumb, 5-8 index,
9-12 middle, 13-16 ring, 17-20 little), NaN for missing keypoints; or (T, 21, 4) with a
per-keypoint confidence last; or .npz with `keypoints` and optional `confidence`. Keypoints are
taken to be in the world (table) frame unless --transform gives world <- their frame.

Output: .npy (T, 30) joint positions in the order of dexmv_sim.adroit.ADROIT_JOINTS (ARTx ARTy
ARTz ARRx ARRy ARRz WRJ1 WRJ0 FFJ3 ... THJ0), always within the joint limits and never NaN.
Frames without usable palm keypoints hold the last good solution, and frames that are no
plausible human hand in the robot's reach (bone lengths, keypoint order, handedness, workspace)
are rejected and hold it too; both are counted, with reasons, in the summary and --diagnostics.

The headline `tsv_error_mm` is DexMV's retargeting error: the mean over frames of the ten vectors
wrist->fingertip and wrist->PIP of |s * human - robot| in mm, with ONE scale s for the hand (fitted
once over the file from hand size, or --scaling-factor), the same figure `dexmv bench retarget`
reports for the same file. `segment_error_mm` is the error of the optimizer's per-finger-scaled
wrist->MCP and MCP->tip vectors (this project's figure before it adopted the paper's), for tuning.

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
    parser.add_argument("--scaling-factor", type=float, metavar="S",
                        help="the one scale of the human hand (dex-retargeting's scaling_factor); default: robot "
                             "size / human size measured on the file")
    parser.add_argument("--segment-weight", type=float, default=0.3,
                        help="weight of the per-finger-scaled wrist->MCP and MCP->tip vectors in the objective "
                             "(default: %(default)s)")
    parser.add_argument("--shape-weight", type=float, default=0.3,
                        help="weight of the MCP-to-PIP shape vectors in the objective; 0 with --segment-weight 0 "
                             "optimizes the paper's ten vectors only (default: %(default)s)")
    parser.add_argument("--no-plausibility-checks", action="store_true",
                        help="retarget frames even if they are not a human hand in reach (not recommended)")
    parser.add_argument("--plot", metavar="PNG", help="write human vs robot vectors and joint trajectories")
    parser.add_argument("--diagnostics", metavar="CSV", help="write per-frame status, error, time, message")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexmv_retarget.hand_keypoints import KeypointInputError, transform_points
    from dexmv_retarget.keypoint_files import load_keypoints, parse_transform
    from dexmv_retarget.palm_frame import mirror_hand
    from dexmv_retarget.retargeter import FrameStatus, RetargetConfig, Retargeter, segment_errors_mm

    out = Path(args.output)
    problem = _check_arguments(args, out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
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
            shape_weight=args.shape_weight, segment_weight=args.segment_weight, scaling_factor=args.scaling_factor,
            check_plausibility=not args.no_plausibility_checks)
        retargeter = Retargeter(config)
        if args.calibrate:
            retargeter.calibrate(keypoints, confidence, source=args.input)
        result = retargeter.retarget(keypoints, confidence, progress=not args.no_progress, source=args.input)
    except (KeypointInputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from collections import Counter

    from dexmv_retarget.hand_keypoints import check_confidence, valid_keypoints
    from dexmv_retarget.paper_metric import score

    status = result.status
    scored = valid_keypoints(keypoints, check_confidence(confidence, len(keypoints)), args.min_confidence)
    scored &= (status != FrameStatus.REJECTED)[:, None]  # nonsense input is not scored
    if not scored.any():
        print(f"error: {args.input}: no frame is a plausible hand ({result.messages[0]}); nothing written",
              file=sys.stderr)
        return 2
    try:
        paper = score(retargeter.kin, keypoints, result.joints, scored, args.fingers_only, args.scaling_factor)
    except ValueError as err:
        print(f"error: {args.input}: {err}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, result.joints)
    objective = segment_errors_mm(retargeter.kin, result.joints, result)
    reasons = Counter(r for t in range(len(status)) for r in _frame_reasons(result, t))
    summary = {
        "input": str(args.input),
        "output": str(out),
        "frames": len(status),
        "held_frames": int((status == FrameStatus.HELD).sum()),
        "partial_frames": int((status == FrameStatus.PARTIAL).sum()),
        "rejected_frames": int((status == FrameStatus.REJECTED).sum()),
        "reasons": dict(reasons),
        "tsv_error_mm": paper.tsv_error_mm,
        "scale": paper.scale,
        "scale_source": paper.scale_source,
        "tsv_error_mm_per_vector": paper.per_vector_mm(),
        "segment_error_mm": float(np.nanmean(objective)) if np.isfinite(objective).any() else None,
        "wrist_error_mm": (float(np.nanmean(result.wrist_error_mm)) if np.isfinite(result.wrist_error_mm).any()
                           else None),
        "wrist_error_mm_max": (float(np.nanmax(result.wrist_error_mm)) if np.isfinite(result.wrist_error_mm).any()
                               else None),
        "ms_per_frame": float(1000 * result.solve_time_s.mean()),
        "max_limit_violation": retargeter.kin.limit_violation(result.joints),
        "filter_cutoff_hz": cutoff or None,
        "fingers_only": bool(args.fingers_only),
    }
    if args.diagnostics:
        import csv

        with open(args.diagnostics, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["frame", "status", "tsv_error_mm", "wrist_error_mm", "solve_ms", "iterations", "reasons",
                             "message"])
            for t in range(len(status)):
                row = paper.errors_mm[t]
                err = f"{np.nanmean(row):.3f}" if np.isfinite(row).any() else ""
                wrist = f"{result.wrist_error_mm[t]:.3f}" if np.isfinite(result.wrist_error_mm[t]) else ""
                writer.writerow([t, FrameStatus(status[t]).name, err, wrist, f"{1000 * result.solve_time_s[t]:.3f}",
                                 int(result.iterations[t]), " ".join(_frame_reasons(result, t)), result.messages[t]])
    if args.plot:
        from dexmv_retarget.plotting import plot_trajectory

        summary["plot"] = str(plot_trajectory(args.plot, retargeter.kin, result, args.fps, paper=paper))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out}: {summary['frames']} frames x 30 joints ({summary['held_frames']} held, "
              f"{summary['rejected_frames']} rejected, {summary['partial_frames']} with missing keypoints)")

        def mm(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.2f} mm"

        print(f"task-vector error (DexMV's: ten wrist->tip/PIP vectors, one scale {paper.scale:.3f} "
              f"{paper.scale_source}) {mm(summary['tsv_error_mm'])}; wrist {mm(summary['wrist_error_mm'])} mean, "
              f"{mm(summary['wrist_error_mm_max'])} max; {summary['ms_per_frame']:.3f} ms/frame; "
              f"max limit violation {summary['max_limit_violation']:g}")
        for reason, count in sorted(reasons.items()):
            print(f"  {count} frames: {reason}")
        if args.plot:
            print(f"plot: {summary['plot']}")
    return 0


def _frame_reasons(result, t: int) -> tuple[str, ...]:
    """Why frame t was not plain OK: its reasons, else its status name (held, partial)."""
    from dexmv_retarget.retargeter import FrameStatus

    reasons = result.reasons[t]
    if reasons:
        return reasons
    return () if result.status[t] == FrameStatus.OK else (FrameStatus(result.status[t]).name.lower(),)


def _check_arguments(args: argparse.Namespace, out: Path) -> str | None:
    """Everything that can be checked before the work starts (nothing is written when this fails)."""
    import math
    import os

    if out.suffix != ".npy":
        return f"--output {out} must end in .npy"
    if Path(args.input).exists() and out.resolve() == Path(args.input).resolve():
        return f"--output {out} is the input file; refusing to overwrite it"
    for name in ("fps", "segment_weight", "shape_weight", "min_confidence", "filter_cutoff"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0:
            return f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}"
    if args.fps <= 0:
        return f"--fps must be positive, got {args.fps}"
    if args.min_confidence > 1:
        return f"--min-confidence must lie in [0, 1], got {args.min_confidence}"
    if args.scaling_factor is not None and not (math.isfinite(args.scaling_factor) and args.scaling_factor > 0):
        return f"--scaling-factor must be a positive number, got {args.scaling_factor}"
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        return f"--plot {args.plot}: the file name must end in .png, .pdf or .svg"
    for option, value in (("--output", out), ("--plot", args.plot), ("--diagnostics", args.diagnostics)):
        if value is None:
            continue
        folder = Path(value).resolve().parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
            return f"{option} {value}: cannot write there ({existing} is not a writable folder)"
        if Path(value).is_dir():
            return f"{option} {value} is a folder; give a file name"
    return None
