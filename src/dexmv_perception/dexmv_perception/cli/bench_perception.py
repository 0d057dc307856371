"""Benchmark perception on a synthetic recording: hand MPJPE (fused and per camera), object pose
errors, detection rate and frames per second of the whole pipeline (both cameras, one process).

Without --recording a recording is rendered first (`dexmv synth --no-pace`) with a seed the
defaults were never looked at with (--seed, default 101), into a temporary folder.

One recording says little about the next: several tasks and seeds (--task a,b --seed 0-4), or
several --recording folders, are measured one after the other, each rendered, perceived and
deleted in turn, and the JSON holds each recording's result and a summary over them (mean,
median, range, how many meet each target).

examples:
  dexmv bench perception                                     # renders relocate-mustard_bottle, seed 101, 4 s
  dexmv bench perception --recording recordings/pour --json
  dexmv bench perception --task pour --seed 7 --model-complexity 1 --report bench-results/perception.json
  dexmv bench perception --task relocate-mug,pour --seed 0-4 --no-objects --plot sweep.png --report sweep.json
  dexmv bench perception --task relocate-mug,pour --seed 0-4 --no-objects --model-complexity 1 \\
      --plot full.png --compare sweep.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

HELP = "perception on a synthetic recording: hand MPJPE, object pose errors, detection rate, frames/s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", metavar="DIR", nargs="+",
                        help="`dexmv synth` folders (with ground_truth.npz), measured in turn")
    parser.add_argument("--task", default="relocate-mustard_bottle",
                        help="task(s) to render without --recording, comma-separated (default: %(default)s)")
    parser.add_argument("--seed", default="101",
                        help="seed(s) to render each task with: 7, 0-4 or 0,3,9 (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length to render (default: %(default)s)")
    parser.add_argument("--model-complexity", type=int, choices=(0, 1), default=0,
                        help="MediaPipe hand model: 0 lite (real time), 1 full with the lite one where it finds "
                             "no hand (what `dexmv perceive` uses) (default: %(default)s)")
    parser.add_argument("--no-crop", action="store_true", help="MediaPipe on whole frames only")
    parser.add_argument("--no-objects", action="store_true", help="hand only")
    parser.add_argument("--perceive", action="store_true",
                        help="also run `dexmv perceive` (its defaults, hand only) on each recording after the timed "
                             "loop and report hand_mpjpe_mm_perceive: the hand as the offline command writes it "
                             "(full model, reverse pass, smoothing); on 2 cores about 5x the recording's length more "
                             "(21 s for the default 4 s recording)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON result to FILE")
    parser.add_argument("--plot", metavar="PNG", help="several recordings: draw each one's errors against the "
                                                      "targets, grouped by task, to PNG")
    parser.add_argument("--compare", metavar="REPORT", help="with --plot: an earlier --report on the same tasks and "
                                                            "seeds, drawn as a tick over each recording's bar")


def parse_seeds(spec: str) -> list[int]:
    """'7' -> [7]; '0-4' -> [0, 1, 2, 3, 4]; '0,3,9' -> [0, 3, 9] (and mixtures: '0-2,9')."""
    seeds: list[int] = []
    try:
        for part in spec.split(","):
            first, dash, last = part.strip().partition("-")
            lo = int(first)
            hi = int(last) if dash else lo
            if hi < lo:
                raise ValueError
            seeds.extend(range(lo, hi + 1))
    except ValueError:
        raise ValueError(f"--seed {spec!r}: expected seeds like 7, 0-4 or 0,3,9") from None
    return list(dict.fromkeys(seeds))


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from dexmv_perception.rig_recording import RigRecordingError

    reference = None
    try:
        if args.compare:  # read first: a bad file is said before an hour of measuring, not after
            data = None
            with contextlib.suppress(json.JSONDecodeError):
                data = json.loads(Path(args.compare).read_text())
            reference = data.get("recordings", [data]) if isinstance(data, dict) else None
            if not reference or not all(isinstance(r, dict) and "task" in r for r in reference):
                raise RigRecordingError(f"--compare {args.compare}: not a `dexmv bench perception --report` file")
        if args.recording:
            jobs = [(Path(d), None, None) for d in args.recording]
            for directory, _, _ in jobs:
                if not (directory / "ground_truth.npz").is_file():
                    raise RigRecordingError(f"{directory}: no ground_truth.npz (make one with `dexmv synth`)")
        else:
            tasks = [t.strip() for t in args.task.split(",") if t.strip()]
            from dexmv_capture.synthetic.hand_motion import TASKS

            unknown = [t for t in tasks if t not in TASKS]
            if not tasks or unknown:  # before anything is rendered, not at the fifth recording
                raise RigRecordingError(f"--task {args.task!r}: unknown {unknown or 'none given'}; "
                                        f"tasks: {', '.join(TASKS)}")
            jobs = [(None, task, seed) for task in tasks for seed in parse_seeds(args.seed)]
        results = []
        for number, (directory, task, seed) in enumerate(jobs, 1):
            label = f"[{number}/{len(jobs)}] " if len(jobs) > 1 else ""
            results.append(_measure(args, directory, task, seed, label))
            if args.report:  # after every recording: what was measured survives a later failure or Ctrl-C
                _write(args.report, _result(results, len(jobs)))
            if len(jobs) > 1 and not args.json:
                r = results[-1]
                print(f"{label}{r['recording']}: hand {r['hand_mpjpe_mm']} mm, object "
                      f"{r['object_translation_error_mm']} mm / {r['object_rotation_error_deg']} deg, "
                      f"detection {r['detection_rate']}, {r['fps']} /s", file=sys.stderr)
    except (RigRecordingError, OSError, ValueError) as err:
        print(f"dexmv bench perception: {err}", file=sys.stderr)
        return 2
    result = _result(results, len(jobs))
    if args.plot:
        from dexmv_perception.benchmark_plot import plot_benchmark

        plot_benchmark(results, args.plot, f"dexmv bench perception: {len(results)} recordings", reference,
                       f"{Path(args.compare).name}" if args.compare else "reference")
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in (result["summary"] if len(results) > 1 else result).items():
            print(f"{key}: {value}")
    return 0


def _result(results: list[dict], planned: int) -> dict:
    """One recording's result as it is; for several, each one's and the summary over them."""
    from dexmv_perception.benchmark import summarize

    if planned == 1:
        return results[0]
    return {"summary": summarize(results), "recordings": results, "complete": len(results) == planned}


def _write(path: str, result: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result) + "\n")


def _measure(args: argparse.Namespace, directory: Path | None, task: str | None, seed: int | None,
             label: str) -> dict:
    """One recording's benchmark: the folder given, or one rendered for (task, seed) and deleted after."""
    from tqdm import tqdm

    from dexmv_perception.benchmark import BenchSettings, decode_rate, run_benchmark
    from dexmv_perception.hand.tracker import HandTrackerConfig
    from dexmv_perception.rig_recording import RigRecordingError

    tmp = None
    try:
        if directory is None:
            from dexmv_capture.synthetic.hand_motion import MotionError
            from dexmv_capture.synthetic.synthesize import synthesize

            tmp = tempfile.TemporaryDirectory(prefix="dexmv-bench-perception-")
            directory = Path(tmp.name)
            bar = tqdm(total=round(args.seconds * 30), unit="frame", desc=f"{label}rendering {task} seed {seed}",
                       disable=args.json)
            try:
                synthesize(task, args.seconds, seed, directory, pace=False,
                           progress=lambda done, total: bar.update(done - bar.n))
            except MotionError as err:
                raise RigRecordingError(str(err)) from None
            finally:
                bar.close()
        settings = BenchSettings(HandTrackerConfig(model_complexity=args.model_complexity, crop=not args.no_crop),
                                 objects=not args.no_objects, perceive=args.perceive)
        bar = tqdm(unit="frame", desc=f"{label}perceiving", disable=args.json)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = run_benchmark(directory, settings, progress)
        bar.close()
        result["decode_fps"] = round(decode_rate(directory), 2)
        result["cpu_count"] = len(os.sched_getaffinity(0))
        if tmp is not None:
            result["recording"] = f"rendered: {task}, seed {seed}, {args.seconds} s"
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()
