"""Benchmark the synthetic recordings: MediaPipe Hands detection rate per task and camera, render speed.

Each task's synthetic recording is rendered as `dexmv synth` records it and every camera's colour
frames go, in order, through MediaPipe Hands 0.10.21 in video (tracking) mode, full model, default
confidences. Reported per task and camera: detected (MediaPipe found a hand), on hand (its
landmarks lie on the true hand: mean error under 35 % of the hand's image size) and in view (the
hand is inside the image); colour images rendered per second; and whole synthetic camera frames
(colour + depth + noise) per second against MuJoCo's default render quality on the same frames.

examples:
  dexmv bench capture                                   # every task, 6 s at 30 fps, seed 0
  dexmv bench capture --tasks pour relocate-mug --seconds 4 --fps 15 --json
  dexmv bench capture --extrinsics my_rig.yaml --report bench-results/capture.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HELP = "MediaPipe hand detection rate on the synthetic recordings (task x camera) and render speed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", nargs="+", default=["all"], metavar="TASK",
                        help="tasks to render, or 'all' (default: all)")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each recording (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per task, from --seed on (default: %(default)s)")
    parser.add_argument("--extrinsics", help="rig YAML (dexmv calibrate's format); default: the packaged layout")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1), default=1,
                        help="MediaPipe hand model: 0 lite, 1 full (default: %(default)s)")
    parser.add_argument("--confidences", type=float, nargs=2, default=(0.5, 0.5), metavar=("DETECTION", "TRACKING"),
                        help="MediaPipe's min_detection_confidence and min_tracking_confidence (default: its "
                             "defaults, 0.5 0.5)")
    parser.add_argument("--reference-frames", type=int, default=20,
                        help="frames rendered at MuJoCo's default quality for the speed reference (0: skip; "
                             "default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from dexmv_capture.d435 import D435_COLOR_640x480
    from dexmv_capture.detection_benchmark import measure_task, reference_render_speed
    from dexmv_capture.extrinsics import ExtrinsicsError, load_extrinsics
    from dexmv_capture.rig import default_extrinsics_file
    from dexmv_capture.synthetic.hand_motion import TASKS, MotionError

    tasks = list(TASKS) if args.tasks == ["all"] else args.tasks
    try:
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise MotionError(f"unknown task(s) {', '.join(unknown)}; tasks: {', '.join(TASKS)} or all")
        if args.seeds < 1:
            raise MotionError(f"--seeds must be at least 1, got {args.seeds}")
        if not all(0.0 <= c <= 1.0 for c in args.confidences):
            raise MotionError(f"--confidences must lie in [0, 1], got {args.confidences}")
        rig_file = args.extrinsics or str(default_extrinsics_file())
        rig = load_extrinsics(rig_file)
        results = []
        start = time.monotonic()
        for task in tasks:
            for seed in range(args.seed, args.seed + args.seeds):
                if not args.json:
                    print(f"  {task} seed {seed} ...", end="\r", file=sys.stderr, flush=True)
                results.append(measure_task(task, seed, args.seconds, args.fps, rig, D435_COLOR_640x480,
                                            args.model_complexity, tuple(args.confidences)))
        reference = None
        if args.reference_frames > 0:
            ours, default = reference_render_speed(tasks[0], args.seed, args.seconds, args.fps, rig,
                                                   D435_COLOR_640x480, args.reference_frames)
            reference = {"task": tasks[0], "frames": args.reference_frames,
                         "ours_camera_frames_per_s": round(ours, 2),
                         "mujoco_default_quality_camera_frames_per_s": round(default, 2),
                         "speedup": round(ours / default, 2)}
    except (MotionError, ExtrinsicsError, ValueError) as err:
        print(f"dexmv bench capture: {err}", file=sys.stderr)
        return 2
    report = _report(args, rig_file, results, reference, time.monotonic() - start)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report)
        if args.report:
            print(f"report: {args.report}")
    return 0


def _report(args: argparse.Namespace, rig_file: str, results: list, reference: dict | None, wall_s: float) -> dict:
    import mediapipe
    import mujoco
    import numpy as np

    cameras = list(results[0].cameras)
    rates = {"detected": "detection_rate", "on_hand": "on_hand_rate", "in_view": "in_view_rate"}
    overall = {cam: {name: round(float(np.concatenate([getattr(r.cameras[cam], k) for r in results]).mean()), 4)
                     for k, name in rates.items()} for cam in cameras}
    frames = sum(r.frames for r in results)
    render_s = sum(r.render_s for r in results)
    detect_s = sum(c.detect_s for r in results for c in r.cameras.values())
    return {
        "benchmark": "capture",
        "settings": {"tasks": [r.task for r in results], "seeds": [r.seed for r in results], "seconds": args.seconds,
                     "fps": args.fps, "rig": rig_file, "model_complexity": args.model_complexity,
                     "mediapipe_mode": f"video (static_image_mode=False), max_num_hands=1, "
                                       f"min_detection_confidence={args.confidences[0]}, "
                                       f"min_tracking_confidence={args.confidences[1]}"},
        "results": [r.summary() for r in results],
        "overall": {"frames": frames, "cameras": overall,
                    "color_images_per_s": round(frames * len(cameras) / render_s, 2),
                    "mediapipe_ms_per_frame": round(1000.0 * detect_s / (frames * len(cameras)), 2)},
        "render_reference": reference,
        "wall_s": round(wall_s, 1),
        "machine": {"cpus": os.cpu_count(), "mujoco": mujoco.__version__, "mediapipe": mediapipe.__version__,
                    "mujoco_gl": os.environ.get("MUJOCO_GL", "")},
    }


def _print_table(report: dict) -> None:
    cameras = list(report["overall"]["cameras"])
    s = report["settings"]
    print(f"MediaPipe Hands {report['machine']['mediapipe']} ({s['mediapipe_mode']}, model {s['model_complexity']}) "
          f"on {s['seconds']} s at {s['fps']} fps, rig {s['rig']}")
    print("detected / on hand / in view, % of frames")
    header = f"{'task':26s} {'seed':>4s} {'grasp':5s} {'frames':>6s} " + " ".join(f"{c:>18s}" for c in cameras) \
        + f" {'colour/s':>9s}"
    print(header)
    for r in report["results"]:
        cells = " ".join(_cell(r["cameras"][c]) for c in cameras)
        print(f"{r['task']:26s} {r['seed']:4d} {r['grasp_type']:5s} {r['frames']:6d} {cells} "
              f"{r['color_images_per_s']:9.1f}")
    o = report["overall"]
    print(f"{'all':26s} {'':4s} {'':5s} {o['frames']:6d} " + " ".join(_cell(o["cameras"][c]) for c in cameras)
          + f" {o['color_images_per_s']:9.1f}")
    print(f"MediaPipe {o['mediapipe_ms_per_frame']:.1f} ms per image; {o['color_images_per_s']:.1f} colour images "
          "rendered per second")
    ref = report["render_reference"]
    if ref:
        default = ref["mujoco_default_quality_camera_frames_per_s"]
        print(f"synthetic camera frames (colour + depth + noise) per second, {ref['frames']} frames of "
              f"{ref['task']}: ours {ref['ours_camera_frames_per_s']:.1f}, MuJoCo default quality {default:.1f} "
              f"(x{ref['speedup']:.1f})")
    print(f"wall time {report['wall_s']:.0f} s")


def _cell(c: dict) -> str:
    return f"{100 * c['detection_rate']:4.0f} /{100 * c['on_hand_rate']:4.0f} /{100 * c['in_view_rate']:4.0f}"
