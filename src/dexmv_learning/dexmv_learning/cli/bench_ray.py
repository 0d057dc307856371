"""Benchmark rollout sampling on Ray actors against local worker processes, measured in the same
run: the same batch (same policy, same seeds) sampled by the local Sampler with actors x workers
processes and by a RaySampler of `--actors` actors of `--workers` processes each, so both use the
same number of CPUs. The figure is the throughput ratio Ray / local (1.0: Ray costs nothing; below
1: the per-step round trips and Ray's own processes cost that share), the median of alternating
rounds. Each round also checks that both batches are bit-identical.

Needs the optional Ray extra (DEXMV_EXTRAS=ray make setup); without it the benchmark says it is
skipped (exit 0, so `dexmv bench all` passes on an install without the extra). Without --ray
ADDRESS a Ray of this machine only is started (loopback), with actors x workers CPUs.

examples:
  dexmv bench ray
  dexmv bench ray --trajectories 200 --horizon 200 --actors 2 --json --report bench-results/ray.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HELP = "rollout sampling on Ray actors vs local worker processes (same CPUs, same batch): throughput ratio"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="relocate-tomato_soup_can", help="task (default: %(default)s)")
    parser.add_argument("--trajectories", type=int, default=64, help="trajectories per batch (default: %(default)s)")
    parser.add_argument("--horizon", type=int, default=100, help="steps per trajectory (default: %(default)s)")
    parser.add_argument("--actors", type=int, default=2, help="Ray actors (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="processes per actor (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--ray", default="local", metavar="ADDRESS",
                        help="cluster address, 'auto', or 'local' (default: a loopback-only Ray of this machine)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexmv_learning.algos.policy import GaussianMLPPolicy
    from dexmv_learning.distributed.cluster import RayUnavailableError, connect, import_ray
    from dexmv_learning.distributed.rollout_actors import RaySampler
    from dexmv_learning.training.sampler import Sampler, torch_generator
    from dexmv_learning.training.trainer import configure_torch
    from dexmv_sim.tasks import TASK_IDS

    if args.task not in TASK_IDS:
        print(f"error: unknown task '{args.task}': choose one of {', '.join(TASK_IDS)}", file=sys.stderr)
        return 2
    if min(args.trajectories, args.horizon, args.actors, args.workers, args.repeats) < 1:
        print("error: --trajectories, --horizon, --actors, --workers and --repeats must be positive", file=sys.stderr)
        return 2
    try:
        import_ray()
    except RayUnavailableError as err:
        print(f"dexmv bench ray: skipped: {err}", file=sys.stderr)
        if args.report:
            Path(args.report).parent.mkdir(parents=True, exist_ok=True)
            Path(args.report).write_text(json.dumps({"skipped": str(err)}) + "\n")
        return 0
    try:
        connect(args.ray, num_cpus=args.actors * args.workers)
    except RayUnavailableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    configure_torch()
    processes = args.actors * args.workers
    local_rates, ray_rates, ratios, identical = [], [], [], True
    with Sampler(args.task, args.trajectories, args.horizon, processes) as local, \
            RaySampler(args.task, args.trajectories, args.horizon, args.actors, args.workers) as remote:
        policy = GaussianMLPPolicy(local.obs_dim, local.act_dim, [32, 32], -0.5, generator=torch_generator(0))
        remote.sample(policy, 0, 0)  # warm-up: the actors' first calls
        for r in range(args.repeats):
            a = local.sample(policy, 1000 + r, 2000 + r)
            b = remote.sample(policy, 1000 + r, 2000 + r)
            identical &= all(np.array_equal(getattr(a, k), getattr(b, k))
                             for k in ("obs", "actions", "rewards", "success", "score"))
            local_rates.append(a.steps / a.seconds)
            ray_rates.append(b.steps / b.seconds)
            ratios.append(ray_rates[-1] / local_rates[-1])
    report = {"task": args.task, "trajectories": args.trajectories, "horizon": args.horizon, "actors": args.actors,
              "workers_per_actor": args.workers, "local_processes": processes,
              "local_steps_per_s": statistics.median(local_rates), "ray_steps_per_s": statistics.median(ray_rates),
              "ray_vs_local": statistics.median(ratios), "identical": bool(identical),
              "samples": {"local": local_rates, "ray": ray_rates}}
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.task}: {args.trajectories} x {args.horizon} steps on {args.actors} Ray actors x {args.workers} "
              f"processes {report['ray_steps_per_s']:.0f} env steps/s vs {processes} local processes "
              f"{report['local_steps_per_s']:.0f}/s: x{report['ray_vs_local']:.2f}; batches identical: "
              f"{report['identical']}")
    return 0 if identical else 1
