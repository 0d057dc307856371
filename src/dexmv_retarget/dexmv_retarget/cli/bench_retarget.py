"""Benchmark retargeting: ms per frame (one thread), task-space-vector error, joint-limit violation,
for our solver and for an SLSQP reference on the same objective, measured in the same run.

Inputs: --input keypoints (.npy/.npz as `dexmv retarget` reads them, any length, any frame with
--transform, NaN allowed), or by default natural human motion from dexmv_capture's synthetic hand
(task_motion: a human skeleton with anthropometric proportions, not derived from the robot). A
round trip on the robot's own smooth random motion (ground truth known) is reported beside it.

examples:
  dexmv bench retarget                        # synthetic human motion + round trip
  dexmv bench retarget --input demo.npy --fps 30 --json
  dexmv bench retarget --input cam.npz --transform extrinsics_4x4.txt --report bench-results/retarget.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HELP = "retargeting speed and accuracy against an SLSQP reference on the same frames"
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="keypoints file (default: synthetic natural human motion)")
    parser.add_argument("--transform", help="world <- input frame (4x4 file or 'x y z qx qy qz qw')")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate (default: %(default)s)")
    parser.add_argument("--task", default="all",
                        help="synthetic motion's task when --input is omitted, or 'all': every DexMV task, "
                             "reported per task and frame-weighted overall (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="synthetic motion length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic motions (default: %(default)s)")
    parser.add_argument("--fingers-only", action="store_true", help="benchmark the hand-relative mode")
    parser.add_argument("--filter-cutoff", type=float, default=0.0, metavar="HZ",
                        help="output low-pass cutoff; 0 (default, as dexmv retarget) disables it")
    parser.add_argument("--reference-frames", type=int, default=150,
                        help="frames the (slow) reference solves (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per measurement; the fastest counts (default: %(default)s)")
    parser.add_argument("--no-round-trip", action="store_true", help="skip the robot-motion round trip")
    parser.add_argument("--only-round-trip", action="store_true",
                        help="only the robot-motion round trip (no human input needed)")
    parser.add_argument("--scaling-factor", type=float, metavar="S",
                        help="the hand's one scale for the headline error (default: fitted on the input)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")


def _has_synthetic_human() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("dexmv_capture.synthetic.hand_motion") is not None
    except ModuleNotFoundError:
        return False


def _synthetic_human(task: str, seed: int, seconds: float, fps: float):
    """Keypoints (and confidence, if given) of dexmv_capture's synthetic natural human motion."""
    try:
        from dexmv_capture.synthetic.hand_motion import task_motion
    except ImportError as err:
        raise RuntimeError("the default input needs dexmv_capture.synthetic.hand_motion.task_motion "
                           f"({err}); pass --input keypoints.npy (or --only-round-trip) instead") from None
    try:
        motion = task_motion(task, seed, seconds, fps)
    except Exception as err:  # their errors (unknown task, ...) become one line, not a traceback
        raise RuntimeError(f"task_motion({task!r}, seed={seed}, seconds={seconds}, fps={fps}) failed: {err}; "
                           "see --task") from None
    if isinstance(motion, dict):
        return motion["keypoints"], motion.get("confidence")
    return getattr(motion, "keypoints", motion), getattr(motion, "confidence", None)


def _synthetic_benchmark(args: argparse.Namespace, config) -> dict:
    """Every requested task of the synthetic human motion, each measured alone, then combined."""
    from dexmv_retarget.benchmark import BenchInput, combine_benchmarks, run_benchmark
    from dexmv_retarget.hand_keypoints import check_keypoints

    if args.task == "all":
        from dexmv_capture.synthetic.hand_motion import TASKS

        tasks = list(TASKS)
    else:
        tasks = [args.task]
    reports = []
    for task in tasks:
        keypoints, confidence = _synthetic_human(task, args.seed, args.seconds, args.fps)
        keypoints = check_keypoints(keypoints, f"task_motion({task!r})")
        name = f"synthetic human motion: task_motion({task!r}, seed={args.seed}, {args.seconds} s)"
        reports.append(run_benchmark(BenchInput(name, keypoints, confidence, args.fps), config,
                                     args.reference_frames, args.repeats))
    if len(reports) == 1:
        return reports[0]
    return combine_benchmarks(f"synthetic human motion: every task ({', '.join(tasks)}), seed {args.seed}, "
                              f"{args.seconds} s each", reports)


def run(args: argparse.Namespace) -> int:
    for name in _THREAD_VARIABLES:  # one BLAS thread: the number is "ms per frame on one thread"
        os.environ[name] = "1"
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=1):  # numpy may be imported already (gymnasium is), so limit it live
        threads = sorted({pool["num_threads"] for pool in threadpool_info()})
        return _run(args, threads)


def _run(args: argparse.Namespace, threads: list[int]) -> int:
    import numpy as np

    from dexmv_retarget.benchmark import BenchInput, run_benchmark
    from dexmv_retarget.hand_keypoints import KeypointInputError, transform_points
    from dexmv_retarget.keypoint_files import load_keypoints, parse_transform
    from dexmv_retarget.kinematics import AdroitKinematics
    from dexmv_retarget.retargeter import RetargetConfig
    from dexmv_retarget.robot_motion import robot_keypoints, smooth_joint_trajectory

    cutoff = args.filter_cutoff
    for option, value, low in (("--repeats", args.repeats, 1), ("--reference-frames", args.reference_frames, 1)):
        if value < low:
            print(f"error: {option} must be at least {low}, got {value}", file=sys.stderr)
            return 2
    if not (args.fps > 0 and args.seconds > 0) or (args.scaling_factor is not None and not args.scaling_factor > 0):
        print("error: --fps, --seconds and --scaling-factor must be positive", file=sys.stderr)
        return 2
    config = RetargetConfig(fingers_only=args.fingers_only, fps=args.fps, filter_cutoff_hz=cutoff or None,
                            scaling_factor=args.scaling_factor)
    try:
        report = {"benchmark": "retarget"}
        only_round_trip = args.only_round_trip
        if not only_round_trip and not args.input and not _has_synthetic_human():
            # `make bench` runs every benchmark with its defaults: say what is missing, measure the rest.
            reason = "dexmv_capture.synthetic.hand_motion is not installed: human motion not measured"
            print(f"warning: {reason}; running the round trip only (pass --input to measure a file)",
                  file=sys.stderr)
            report["human_motion"] = f"not measured: {reason}"
            only_round_trip = True
        if only_round_trip and args.no_round_trip:
            raise ValueError("--no-round-trip leaves nothing to measure here")
        if not only_round_trip:
            if args.input:
                keypoints, confidence = load_keypoints(args.input)
                if args.transform:
                    keypoints = transform_points(keypoints, parse_transform(args.transform))
                report.update(run_benchmark(BenchInput(str(args.input), keypoints, confidence, args.fps), config,
                                            args.reference_frames, args.repeats))
            else:
                report.update(_synthetic_benchmark(args, config))
        if not args.no_round_trip:
            kin = AdroitKinematics()
            truth = smooth_joint_trajectory(kin, int(args.seconds * args.fps), args.fps, seed=args.seed,
                                            max_frequency_hz=0.5)
            trip = BenchInput(f"robot smooth random motion (seed {args.seed}, 3 mm noise)",
                              robot_keypoints(kin, truth, noise_m=0.003, seed=args.seed), None, args.fps, truth)
            trip_report = run_benchmark(trip, config, args.reference_frames, args.repeats)
            if only_round_trip:  # the headline numbers are the round trip's
                report.update(trip_report)
            report["round_trip"] = trip_report
    except (KeypointInputError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import mujoco

    report["machine"] = {"blas_threads": threads, "numpy": np.__version__, "mujoco": mujoco.__version__,
                         "cpus": os.cpu_count()}
    text = json.dumps(report, indent=None if args.json else 2)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(text)
    else:
        _print_table(report)
        if args.report:
            print(f"report: {args.report}")
    return 0


def _f(value: float | None, spec: str = ".2f") -> str:
    """A number for the table, or n/a where nothing could be measured (e.g. every frame held)."""
    return "n/a" if value is None else format(value, spec)


def _print_table(report: dict) -> None:
    cases = [] if "round_trip" in report and report["round_trip"]["input"] == report.get("input") else [
        ("input", report)]
    if "inputs" in report:
        for case in report["inputs"]:
            ours, ref = case["ours_on_reference_frames"], case["reference"]
            print(f"  {case['input']}: all frames {_f(case['ms_per_frame'], '.3f')} ms/frame, TSV error "
                  f"{_f(case['tsv_error_mm'])} mm, wrist {_f(case.get('wrist_error_mm'))} mm, max violation "
                  f"{case['max_limit_violation']:g} | first {ours['frames']}: ours {_f(ours['ms_per_frame'], '.3f')} "
                  f"ms/frame {_f(ours['tsv_error_mm_unfiltered'])} mm, SLSQP {_f(ref['ms_per_frame'])} ms/frame "
                  f"{_f(ref['tsv_error_mm_unfiltered'])} mm")
    cases += [("round trip", report["round_trip"])] if "round_trip" in report else []
    for label, case in cases:
        ref, ours = case["reference"], case["ours_on_reference_frames"]
        print(f"{label}: {case['input']} ({case['frames']} frames at {case['fps']} Hz)")
        print(f"  ours, all frames:  {_f(case['ms_per_frame'], '.3f')} ms/frame (p95 "
              f"{_f(case['ms_per_frame_p95'], '.3f')}; thread CPU {_f(case.get('cpu_ms_per_frame'), '.3f')}), "
              f"TSV error {_f(case['tsv_error_mm'])} mm (unfiltered "
              f"{_f(case['tsv_error_mm_unfiltered'])}), max limit violation {case['max_limit_violation']:g}, "
              f"{case['held_frames']} held frames")
        if case.get("wrist_error_mm") is not None:
            print(f"  wrist (palm origin) position error {case['wrist_error_mm']:.2f} mm")
        print(f"  first {ours['frames']} frames: ours {_f(ours['ms_per_frame'], '.3f')} ms/frame, "
              f"{_f(ours['tsv_error_mm_unfiltered'])} mm | SLSQP {_f(ref['ms_per_frame'])} ms/frame, "
              f"{_f(ref['tsv_error_mm_unfiltered'])} mm | speedup x{_f(case['speedup_vs_reference'], '.0f')}")
        if "finger_joint_error_rad" in case:
            print(f"  finger joints vs truth: {case['finger_joint_error_rad']:.4f} rad mean")
