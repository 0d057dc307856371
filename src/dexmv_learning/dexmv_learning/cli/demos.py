"""Turn human demonstrations (perceived hand and object trajectories) into robot demonstrations.

Sources (--from, any number, all of one task): a rosbag2 directory recorded by recorder_node
(/dexmv/hand_pose, /dexmv/object_poses), a recording directory (its poses.npz from perception, else
its ground_truth.npz), or a poses .npz file. Pipeline (as DexMV): retargeting, the object's last
pose as the relocate target (hindsight), resampling to 100 Hz with a low-pass filter and velocity
and acceleration limits, fitted to the task's 200-step horizon (--fit-horizon: sped up within the
limits, held still after the manipulation, started at the env's reset hand pose), inverse dynamics
and a physical replay; then (default, --refine contact)
a contact-aware refinement of the grasp so the replay holds the object. Output: a Minari dataset
(--out, default data/demos/<task> or $DEXMV_DEMOS_DIR/<task>, where `dexmv train` looks) and a
summary (also <out>/summary.json).

The embedded default (--default): every task's synthetic human motions (seeds 0..n-1) rendered as
two-camera RealSense recordings and run through perception (dexmv_perception's offline pipeline,
as `dexmv perceive`: every object of the scene tracked, the moved one converted), recordings and
poses kept under --recordings and reused (poses made without one of the scene's objects are
perceived again); --ground-truth takes
the motions' ground truth instead (no rendering, no perception). The summary names the source of
every demonstration.

examples:
  dexmv demos --default                                   # every task, a few perceived demos each
  dexmv demos --default --tasks pour --ground-truth       # ground-truth hand and object, no perception
  dexmv demos --task relocate-mug --from rec1 rec2 run.bag --out data/demos/relocate-mug --force
  dexmv demos --task pour --from poses.npz --refine none --state-only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "human recordings/bags/poses -> robot demonstrations (Minari dataset) with a physical replay check"
DEFAULT_PER_TASK = 3
DEFAULT_SECONDS = 4.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", help="task id (relocate-<object>, pour, place_inside)")
    parser.add_argument("--from", dest="sources", nargs="+", metavar="PATH",
                        help="bag directories, recording directories or poses .npz files")
    parser.add_argument("--out", help="dataset directory (default: data/demos/<task>, or $DEXMV_DEMOS_DIR/<task>); "
                                      "with --default, the folder that gets one <task> dataset per task")
    parser.add_argument("--default", action="store_true",
                        help="the embedded default: synthetic recordings of every task (or --tasks), "
                             "--per-task each (seeds 0..n-1), perceived, written to the default location")
    parser.add_argument("--ground-truth", action="store_true",
                        help="with --default: the synthetic motions' ground truth instead of perception")
    parser.add_argument("--recordings", default=None, metavar="DIR",
                        help="with --default: where the rendered recordings and their poses.npz are kept and "
                             "reused (default: data/recordings)")
    parser.add_argument("--tasks", nargs="+", help="with --default: only these tasks")
    parser.add_argument("--per-task", type=int, default=DEFAULT_PER_TASK, help="with --default (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="with --default: length of each synthetic motion (default: %(default)s)")
    parser.add_argument("--refine", choices=("contact", "none"), default="contact",
                        help="grasp refinement so the physical replay succeeds (default: %(default)s); none "
                             "keeps DexMV's kinematic demonstrations")
    parser.add_argument("--max-gap", type=float, default=0.3, metavar="S",
                        help="longest perception gap (s) filled by interpolation; a longer one drops the demo "
                             "unless --max-held-gap applies (default: %(default)s)")
    parser.add_argument("--max-held-gap", type=float, default=1.0, metavar="S",
                        help="longest gap (s) of the hand or the object filled while the hand holds the object "
                             "(the missing one carried rigidly with the seen one), of an object that stood "
                             "still across it, or of the hand while the object stood still (an approach: "
                             "interpolated); longer drops the demo (default: %(default)s)")
    parser.add_argument("--fit-horizon", default="200", metavar="STEPS",
                        help="episode length the demonstrations must fit (DexMV's 200): the human motion is "
                             "sped up, within the joint velocity/acceleration limits, so the manipulation ends by "
                             "75%% of it, then held still; 0 or none keeps the human's timing (default: %(default)s)")
    parser.add_argument("--hand-start", choices=("reset", "human"), default="reset",
                        help="reset: demonstrations start at the env's default hand pose (where training and "
                             "evaluation episodes start) and fade onto the human's path; human: at "
                             "the human's retargeted first pose (default: %(default)s)")
    parser.add_argument("--state-only", action="store_true",
                        help="also write <out>-state-only: observations without actions, for SOIL")
    parser.add_argument("--seed", type=int, default=0, help="seed of the episodes' random draws (default: 0)")
    parser.add_argument("--force", action="store_true", help="replace an existing dataset at --out")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def default_trajectories(task: str, args: argparse.Namespace):
    """The embedded default's human trajectories of one task, made lazily (one at a time)."""
    if getattr(args, "ground_truth", False):
        from dexmv_learning.demos.motion_source import motion_trajectory

        return (motion_trajectory(task, s, args.seconds) for s in range(args.per_task))
    from dexmv_learning.demos.perceived_source import DEFAULT_RECORDINGS_DIR, perceived_trajectory

    root = getattr(args, "recordings", None) or DEFAULT_RECORDINGS_DIR
    quiet = getattr(args, "json", False)
    return (perceived_trajectory(task, s, args.seconds, root, progress=None if quiet else print)
            for s in range(args.per_task))


def task_mismatches(task: str, trajectories) -> list[str]:
    """One line per source whose own metadata names another task than --task: a pour recording
    converted as a relocation gives demos that never succeed, and nothing else would say why."""
    return [f"{t.path} was recorded as '{t.meta['task']}' (its metadata), converting it as '{task}'"
            for t in trajectories if t.meta.get("task") and t.meta["task"] != task]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dexmv_learning.demos import default_location
    from dexmv_learning.demos.conversion import ConversionConfig
    from dexmv_learning.demos.dataset import DatasetError
    from dexmv_learning.demos.generate import convert_all, summary_lines, write_results
    from dexmv_learning.demos.perceived_source import PerceptionUnavailable
    from dexmv_learning.demos.trajectory import TrajectoryInputError, load_trajectory
    from dexmv_sim.tasks import TASK_IDS

    if args.max_gap <= 0:
        print(f"dexmv demos: --max-gap must be positive, got {args.max_gap}", file=sys.stderr)
        return 2
    max_held_gap = getattr(args, "max_held_gap", 1.0)
    if max_held_gap < args.max_gap:
        print(f"dexmv demos: --max-held-gap ({max_held_gap}) must be at least --max-gap ({args.max_gap})",
              file=sys.stderr)
        return 2
    fit = str(getattr(args, "fit_horizon", "200")).strip().lower()
    if fit in ("none", "0"):
        fit_horizon = None
    elif fit.isdigit() and int(fit) >= 20:
        fit_horizon = int(fit)
    else:
        print(f"dexmv demos: --fit-horizon must be a step count of at least 20, 0 or none; got '{fit}'",
              file=sys.stderr)
        return 2
    config = ConversionConfig(max_gap_s=args.max_gap, max_held_gap_s=max_held_gap, refine=args.refine,
                              fit_horizon=fit_horizon,
                              hand_start=getattr(args, "hand_start", "reset"))
    jobs = []  # (task, trajectories, out)
    if args.default:
        tasks = args.tasks or list(TASK_IDS)
        bad = [t for t in tasks if t not in TASK_IDS]
        if bad:
            print(f"dexmv demos: unknown task(s) {', '.join(bad)}; choose from {', '.join(TASK_IDS)}", file=sys.stderr)
            return 2
        if args.per_task < 1 or args.seconds <= 0:
            print("dexmv demos: --per-task must be at least 1 and --seconds positive", file=sys.stderr)
            return 2
        for task in tasks:
            out = Path(args.out) / task if args.out else default_location(task)
            jobs.append((task, default_trajectories(task, args), out, args.per_task))
        args.force = True  # the default set is regenerated in place
    else:
        if not args.task or not args.sources:
            print("dexmv demos: give --task and --from (or --default)", file=sys.stderr)
            return 2
        if args.task not in TASK_IDS:
            print(f"dexmv demos: unknown task '{args.task}'; choose from {', '.join(TASK_IDS)}", file=sys.stderr)
            return 2
        try:
            trajs = [load_trajectory(p) for p in args.sources]
        except (TrajectoryInputError, ValueError) as err:
            print(f"dexmv demos: {err}", file=sys.stderr)
            return 2
        for line in task_mismatches(args.task, trajs):
            print(f"dexmv demos: warning: {line}", file=sys.stderr)
        jobs.append((args.task, trajs, args.out or default_location(args.task), len(trajs)))
    summaries = []
    failed: list[str] = []
    for task, trajs, out, n in jobs:
        try:
            with tqdm(total=n, desc=f"demos {task}", unit="demo", disable=args.json) as bar:
                results = convert_all(task, trajs, config, seed=args.seed, progress=bar.update)
        except (ValueError, PerceptionUnavailable, OSError) as err:  # a recording or poses file that cannot be used
            print(f"dexmv demos: {task}: {err}", file=sys.stderr)
            return 2
        try:
            summary = write_results(out, task, results, config, state_only=args.state_only, overwrite=args.force)
        except DatasetError as err:
            print(f"dexmv demos: {err}", file=sys.stderr)
            for r in results:
                print(f"  dropped {r.source.get('path')}: {r.dropped}", file=sys.stderr)
            failed.append(task)
            continue  # the default set goes on with the other tasks
        summary["out"] = str(out)
        summaries.append(summary)
        if not args.json:
            print("\n".join(summary_lines(summary)))
            print(f"  -> {out}")
    if args.json:
        print(json.dumps([{k: v for k, v in s.items() if k != "per_demo"} for s in summaries], indent=2))
    if failed:
        print(f"dexmv demos: no demonstration kept for {', '.join(failed)}", file=sys.stderr)
        return 2
    return 0
