"""Reproduce DexMV's Table 1: train every method on every task for several seeds, evaluate each run
on 100 episodes (mean action), and write the table (markdown + CSV, mean +- std over seeds, with
the paper's DAPG column beside it) and the learning curves.

Far too long for CI at the defaults (5 methods x 7 tasks x 3 seeds x 100+ iterations of 40,000
steps): it runs to completion however long it takes, and started again with the same arguments it
continues where it stopped (finished runs are skipped, unfinished ones resume from their last
checkpoint, evaluations are reused).

examples:
  dexmv table1 --out table1
  dexmv table1 --tasks relocate-tomato_soup_can relocate-mug --algos rl dapg --seeds 0 1 2 --iterations 50 --out t1
  dexmv table1 --out /shared/table1 --ray auto --workers 4     # on the cluster `ray start` joined
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "train and evaluate every method on every task and seed, write DexMV's Table 1 (md, csv) and curves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dexmv_learning.training.config import ALGOS

    parser.add_argument("--tasks", nargs="+", help="task ids (default: all seven)")
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=["rl", "bc", "gail", "soil", "dapg"],
                        help="methods (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    parser.add_argument("--iterations", type=int, help="iterations per run (default: config, 100)")
    parser.add_argument("--trajectories", type=int, help="trajectories per iteration (default: config, 200)")
    parser.add_argument("--horizon", type=int, help="steps per trajectory (default: config, 200)")
    parser.add_argument("--workers", type=int, help="processes stepping the simulator (default: one per core)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per run (default: 100)")
    parser.add_argument("--demos-dir", help="folder with one demonstration dataset per task (<dir>/<task>); default: "
                                            "dexmv_learning.demos.default_location(task)")
    parser.add_argument("--out", required=True, help="output folder (runs, table, curves)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help="every run a Ray task, resumed from its checkpoint after a node died (optional extra: "
                             "DEXMV_EXTRAS=ray make setup); ADDRESS: a cluster's "
                             "HOST:PORT or 'auto' (the one `ray start` made here); without ADDRESS a Ray of this "
                             "machine only (loopback). --out must be storage every node shares")
    parser.add_argument("--ray-actors", type=int, default=0, metavar="N",
                        help="with --ray: spread each run's rollouts over N Ray actors of --workers processes each "
                             "(same results as local sampling; default 0: sample in the run's own task)")


def run(args: argparse.Namespace) -> int:
    from dexmv_learning.training.config import NEEDS_DEMOS, ConfigError
    from dexmv_sim.tasks import TASK_IDS

    tasks = args.tasks or list(TASK_IDS)
    unknown = [t for t in tasks if t not in TASK_IDS]
    if unknown:
        print(f"error: unknown task(s) {', '.join(unknown)}: choose from {', '.join(TASK_IDS)}", file=sys.stderr)
        return 2

    def demos_for(task: str) -> str:
        if args.demos_dir:
            return str(Path(args.demos_dir) / task)
        from dexmv_learning.demos import default_location

        return str(default_location(task))

    if any(a in NEEDS_DEMOS for a in args.algos):
        missing = [demos_for(t) for t in tasks if not Path(demos_for(t)).exists()]
        if missing:
            print(f"error: no demonstrations at {', '.join(missing)} (make them with `dexmv demos`, or give "
                  "--demos-dir)", file=sys.stderr)
            return 2
    overrides = {"iterations": args.iterations, "trajectories": args.trajectories, "horizon": args.horizon,
                 "num_workers": args.workers}
    from dexmv_learning.evaluation.table1 import run_table

    Path(args.out).mkdir(parents=True, exist_ok=True)
    try:
        if args.ray is not None:
            from dexmv_learning.distributed.sweep import run_table_on_ray

            if args.ray_actors < 0:
                raise ConfigError(f"--ray-actors must be 0 or more, got {args.ray_actors}")
            result = run_table_on_ray(args.out, tasks, args.algos, args.seeds, overrides, demos_for, args.episodes,
                                      args.ray, args.ray_actors, progress=not args.no_progress)
        else:
            result = run_table(args.out, tasks, args.algos, args.seeds, overrides, demos_for, args.episodes,
                               progress=not args.no_progress)
    except (ConfigError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(Path(result["markdown"]).read_text())
    print(f"written: {result['markdown']}, {result['csv']}, curves_<task>.png in {args.out}")
    return 0
