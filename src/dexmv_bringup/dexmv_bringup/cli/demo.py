"""Run the pipeline on the embedded default input, stage by stage, and say what each stage produced.

Stages run in order and stop at the first failure:
  1. environment  the checks of `dexmv doctor`
  2. capture      a synthetic two-camera RealSense recording of a human hand doing the task
  3. graph        the recording through real node processes over DDS: camera and extrinsics
                  publishers, retarget_node, sim_node (ground-truth keypoints stand in for perception)
  4. replay       the motion retargeted, turned into actions by inverse dynamics and replayed in MuJoCo
Perception and learning join as their packages land. Everything is written under --out.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from dexmv_bringup.demo.run_state import DemoRun

HELP = "run the whole pipeline on the embedded default input (what `make demo` runs)"


def _stage_environment(run: DemoRun) -> str:
    from dexmv_bringup.cli import doctor

    if doctor.run(argparse.Namespace(no_dds=False, no_render=False)) != 0:
        raise RuntimeError("environment checks failed")
    return "environment ready"


def _stage_capture(run: DemoRun) -> str:
    from dexmv_bringup.demo.capture import stage_capture

    return stage_capture(run)


def _stage_graph(run: DemoRun) -> str:
    from dexmv_bringup.demo.graph import stage_graph

    return stage_graph(run)


def _stage_replay(run: DemoRun) -> str:
    from dexmv_bringup.demo.replay import stage_replay

    return stage_replay(run)


STAGES: list[tuple[str, Callable[[DemoRun], str]]] = [
    ("environment", _stage_environment),
    ("capture", _stage_capture),
    ("graph", _stage_graph),
    ("replay", _stage_replay),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n", 1)[1].strip()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--task", default="relocate-mustard_bottle",
                        help="task the synthetic human performs (see `dexmv sim tasks`; default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the recording (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=15.0, help="camera frame rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="varies the hand, motion and layout (default: 0)")
    parser.add_argument("--out", default="demo-output", help="folder for everything written (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for each node (default: %(default)s)")
    parser.add_argument("--stages", nargs="+", choices=[name for name, _ in STAGES], metavar="STAGE",
                        help="run only these stages (later stages need earlier ones' products)")


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.fps <= 0:
        print("dexmv demo: --seconds and --fps must be positive")
        return 2
    demo = DemoRun(out=Path(args.out), task=args.task, seconds=args.seconds, fps=args.fps, seed=args.seed,
                   timeout=args.timeout)
    demo.out.mkdir(parents=True, exist_ok=True)
    stages = [(n, s) for n, s in STAGES if not args.stages or n in args.stages]
    for i, (name, stage) in enumerate(stages, 1):
        print(f"[{i}/{len(stages)}] {name}", flush=True)
        start = time.monotonic()
        try:
            result = stage(demo)
        except Exception as err:  # a stage's failure ends the demo with one line, not a traceback
            print(f"      FAILED: {err}", flush=True)
            return 1
        print(f"      {result} ({time.monotonic() - start:.1f} s)", flush=True)
    print(f"demo finished: every stage ran; outputs in {demo.out}/")
    return 0
