"""Benchmark perception on a synthetic recording: hand MPJPE (fused and per camera), object pose
errors, detection rate and frames per second of the whole pipeline (both cameras, one process).

Without --recording a recording is rendered first (`dexmv synth --no-pace`) with a seed the
defaults were never looked at with (--seed, default 101), into a temporary folder.

examples:
  dexmv bench perception                                     # renders relocate-mustard_bottle, seed 101, 4 s
  dexmv bench perception --recording recordings/pour --json
  dexmv bench perception --task pour --seed 7 --model-complexity 1 --report bench-results/perception.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HELP = "perception on a synthetic recording: hand MPJPE, object pose errors, detection rate, frames/s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", metavar="DIR", help="a `dexmv synth` folder (with ground_truth.npz)")
    parser.add_argument("--task", default="relocate-mustard_bottle", help="task to render without --recording "
                                                                          "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=101, help="seed to render with (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length to render (default: %(default)s)")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1), default=0,
                        help="MediaPipe hand model: 0 lite, 1 full (default: %(default)s)")
    parser.add_argument("--no-crop", action="store_true", help="MediaPipe on whole frames only")
    parser.add_argument("--no-objects", action="store_true", help="hand only")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON result to FILE")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from tqdm import tqdm

    from dexmv_perception.benchmark import BenchSettings, decode_rate, run_benchmark
    from dexmv_perception.hand.tracker import HandTrackerConfig
    from dexmv_perception.rig_recording import RigRecordingError

    tmp = None
    try:
        if args.recording:
            directory = Path(args.recording)
            if not (directory / "ground_truth.npz").is_file():
                raise RigRecordingError(f"{directory}: no ground_truth.npz (make one with `dexmv synth`)")
        else:
            from dexmv_capture.synthetic.hand_motion import MotionError
            from dexmv_capture.synthetic.synthesize import synthesize

            tmp = tempfile.TemporaryDirectory(prefix="dexmv-bench-perception-")
            directory = Path(tmp.name)
            bar = tqdm(total=round(args.seconds * 30), unit="frame", desc=f"rendering {args.task}",
                       disable=args.json)
            try:
                synthesize(args.task, args.seconds, args.seed, directory, pace=False,
                           progress=lambda done, total: bar.update(done - bar.n))
            except MotionError as err:
                raise RigRecordingError(str(err)) from None
            finally:
                bar.close()
        settings = BenchSettings(HandTrackerConfig(model_complexity=args.model_complexity, crop=not args.no_crop),
                                 objects=not args.no_objects)
        bar = tqdm(unit="frame", desc="perceiving", disable=args.json)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = run_benchmark(directory, settings, progress)
        bar.close()
        result["decode_fps"] = round(decode_rate(directory), 2)
        result["cpu_count"] = len(os.sched_getaffinity(0))
        if tmp is not None:
            result["recording"] = f"rendered: {args.task}, seed {args.seed}, {args.seconds} s"
    except (RigRecordingError, OSError) as err:
        print(f"dexmv bench perception: {err}", file=sys.stderr)
        return 2
    finally:
        if tmp is not None:
            tmp.cleanup()
    text = json.dumps(result)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
