"""Run the pipeline on the embedded default input, stage by stage, and say what each stage produced.

Stages run in order and stop at the first failure (one line saying why):
  1. environment  the checks of `dexmv doctor`
  2. capture      a synthetic two-camera RealSense recording of a human hand doing the task
  3. graph        capture.launch.py on the recording (ROS 2's launch service, as `dexmv launch`):
                  camera and extrinsics publishers, perception_node, retarget_node, sim_node and
                  recorder_node over DDS, a rosbag2 bag of perception's hand and object poses
  4. replay       the motion retargeted, turned into actions by inverse dynamics and replayed in
                  MuJoCo; the human recording beside the robot as an MP4
  5. demos        the bag -> robot demonstrations (`dexmv demos`: retargeting, hindsight target,
                  100 Hz, inverse dynamics, grasp refinement), a Minari dataset
  6. train        DAPG on those demonstrations, briefly (`dexmv train --algo dapg`)
  7. evaluate     the policy on fresh episodes as Table 1 counts them, with a video (`dexmv eval`)
  8. deploy       policy_node driving sim_node over DDS for one episode
  9. report       <out>/report.md: every stage's numbers, plots and videos
Everything is written under --out. The defaults take minutes on 2 cores; training this briefly
shows the pipeline working end to end, not a policy that solves the task (see `dexmv table1`).
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from pathlib import Path

from dexmv_bringup.demo.run_state import DemoRun

HELP = "run the whole pipeline on the embedded default input (what `make demo` runs)"


# (stage, module of dexmv_bringup.demo defining `stage_<stage>(run) -> str`), in order; modules are
# imported when their stage runs, so `dexmv demo --help` stays fast
STAGES: list[tuple[str, str]] = [
    ("environment", "environment"),
    ("capture", "capture"),
    ("graph", "graph"),
    ("replay", "replay"),
    ("demos", "learning"),
    ("train", "learning"),
    ("evaluate", "learning"),
    ("deploy", "deploy"),
    ("report", "report"),
]


def _stage(name: str, module: str) -> Callable[[DemoRun], str]:
    return getattr(importlib.import_module(f"dexmv_bringup.demo.{module}"), f"stage_{name}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n", 1)[1].strip()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--task", default="relocate-tomato_soup_can",
                        help="task the synthetic human performs (see `dexmv sim tasks`; default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the recording (default: %(default)s)")
    parser.add_argument("--fps", type=float, default=15.0, help="camera frame rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="varies the hand, motion and layout (default: 0)")
    parser.add_argument("--out", default="demo-output", help="folder for everything written (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=0.1,
                        help="speed at which the camera nodes play the recording in the graph stage, as `ros2 bag "
                             "play --rate` (default: %(default)s: perception on two cores keeps up with every frame; "
                             "1: real time, a busy perception_node then drops frames and the demonstration may be "
                             "dropped for its gaps)")
    parser.add_argument("--max-gap", type=float, default=1.0, metavar="S",
                        help="longest gap in perception's hand poses (s) the demos stage fills by interpolation "
                             "(default: %(default)s; `dexmv demos` uses 0.3: a busy perception_node on two cores "
                             "misses the fast reach of a short clip)")
    parser.add_argument("--iterations", type=int, default=5, help="DAPG iterations (default: %(default)s)")
    parser.add_argument("--trajectories", type=int, default=20,
                        help="trajectories per DAPG iteration (default: %(default)s; DexMV: 200)")
    parser.add_argument("--horizon", type=int, default=200,
                        help="control steps per episode in training, evaluation and deployment (default: %(default)s, "
                             "DexMV's)")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for each node (default: %(default)s)")
    parser.add_argument("--stages", nargs="+", choices=[name for name, _ in STAGES], metavar="STAGE",
                        help="run only these stages (later stages need earlier ones' products)")


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.fps <= 0 or not args.rate > 0 or not args.max_gap > 0:
        print("dexmv demo: --seconds, --fps, --rate and --max-gap must be positive")
        return 2
    small = [f"--{n}" for n in ("iterations", "trajectories", "horizon", "episodes") if getattr(args, n) < 1]
    if small:
        print(f"dexmv demo: {', '.join(small)} must be at least 1")
        return 2
    demo = DemoRun(out=Path(args.out), task=args.task, seconds=args.seconds, fps=args.fps, seed=args.seed,
                   timeout=args.timeout, iterations=args.iterations, trajectories=args.trajectories,
                   horizon=args.horizon, episodes=args.episodes, rate=args.rate,
                   max_gap=args.max_gap)
    demo.out.mkdir(parents=True, exist_ok=True)
    stages = [(n, m) for n, m in STAGES if not args.stages or n in args.stages]
    for i, (name, module) in enumerate(stages, 1):
        print(f"[{i}/{len(stages)}] {name}", flush=True)
        start = time.monotonic()
        try:
            result = _stage(name, module)(demo)
        except Exception as err:  # a stage's failure ends the demo with one line, not a traceback
            print(f"      FAILED: {err}", flush=True)
            return 1
        seconds = time.monotonic() - start
        demo.products.setdefault("stages", []).append((name, result, seconds))
        print(f"      {result} ({seconds:.1f} s)", flush=True)
    print(f"demo finished: every stage ran; outputs in {demo.out}/")
    return 0
