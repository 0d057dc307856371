"""Benchmark demonstration quality per task: demos kept, replay tracking error, replay success and
score without refinement (DexMV's kinematic demonstrations) and with the contact refinement.

Inputs: synthetic human motions of each task (dexmv_capture's hand motions), seeds fixed (--seed,
--per-task): their ground truth by default, or with --perception the default set's path (rendered
two-camera recordings run through dexmv_perception; recordings kept and reused under
--recordings). Goal: refined replay success >= 0.8 on every relocate object and a pour score
above 0.5.

examples:
  dexmv bench demos
  dexmv bench demos --tasks relocate-mug pour --per-task 5 --json
  dexmv bench demos --tasks relocate-tomato_soup_can --perception --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

HELP = "demonstration replay success and tracking, with and without the grasp refinement"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", nargs="+", help="tasks (default: all)")
    parser.add_argument("--per-task", type=int, default=5, help="demonstrations per task (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=4.0, help="motion length (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=100, help="first motion seed (default: %(default)s)")
    parser.add_argument("--perception", action="store_true",
                        help="perceived trajectories of rendered recordings instead of the motions' ground truth")
    parser.add_argument("--recordings", default=None, metavar="DIR",
                        help="with --perception: where recordings are kept and reused (default: data/recordings)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dexmv_learning.demos.conversion import ConversionConfig
    from dexmv_learning.demos.generate import convert_all, summarize
    from dexmv_learning.demos.motion_source import motion_trajectory
    from dexmv_learning.demos.perceived_source import DEFAULT_RECORDINGS_DIR, perceived_trajectory
    from dexmv_sim.tasks import TASK_IDS

    tasks = args.tasks or list(TASK_IDS)
    bad = [t for t in tasks if t not in TASK_IDS]
    if bad:
        print(f"dexmv bench demos: unknown task(s) {', '.join(bad)}", file=sys.stderr)
        return 2
    config = ConversionConfig(refine="contact")
    rows = []
    for task in tasks:
        start = time.perf_counter()
        if args.perception:
            root = args.recordings or DEFAULT_RECORDINGS_DIR
            trajs = (perceived_trajectory(task, args.seed + s, args.seconds, root) for s in range(args.per_task))
        else:
            trajs = (motion_trajectory(task, args.seed + s, args.seconds) for s in range(args.per_task))
        with tqdm(total=args.per_task, desc=task, unit="demo", disable=args.json) as bar:
            results = convert_all(task, trajs, config, progress=bar.update)
        s = summarize(task, results, config)
        rows.append({k: v for k, v in s.items() if k != "per_demo"}
                    | {"per_demo_success": [(d.get("kinematic", {}).get("success"), d.get("refined", {}).get("success"),
                                             d.get("refined", {}).get("grasp")) for d in s["per_demo"]],
                       "seconds": round(time.perf_counter() - start, 1)})
    source = "perception of rendered synthetic recordings" if args.perception else \
        "synthetic human motion ground truth (dexmv_capture)"
    report = {"source": source, "seconds_per_demo": args.seconds, "per_task": args.per_task,
              "seed": args.seed, "tasks": rows}
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'task':<26}{'kept':>5}{'track mm':>10}{'kin succ':>10}{'kin score':>10}{'ref succ':>10}{'ref score':>10}")
    for r in rows:
        print(f"{r['task']:<26}{r['kept']:>5}{r['refined_tracking_rms_mm'] or 0:>10.1f}"
              f"{r['kinematic_replay_success'] or 0:>10.2f}{r['kinematic_replay_score'] or 0:>10.2f}"
              f"{r['refined_replay_success'] or 0:>10.2f}{r['refined_replay_score'] or 0:>10.2f}")
        for d in r["dropped_reasons"]:  # a demo dropped is a number to explain, not to hide
            print(f"  dropped {d['source']}: {d['reason']}")
    return 0
