"""Benchmark training throughput: env steps/s while sampling a training batch (policy inference,
batched simulator over all cores) beside one thread stepping the same task with the same kind of
actions in a plain loop (the figure `dexmv bench sim` calls "1 thread"), measured in the same run,
plus the time of one policy update (TRPO step and value-baseline fit) at the batch size.

Rounds alternate (1 thread, then the training sampler) `--repeats` times so load from other
processes hits both alike; the ratio is the median of the rounds' ratios.

examples:
  dexmv bench learning
  dexmv bench learning --trajectories 200 --horizon 200 --json --report bench-results/learning.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HELP = "training throughput: env steps/s while sampling (all cores) vs one thread, and update time per iteration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="relocate-tomato_soup_can", help="task (default: %(default)s)")
    parser.add_argument("--trajectories", type=int, default=64, help="trajectories per batch (default: %(default)s; "
                                                                     "training uses 200)")
    parser.add_argument("--horizon", type=int, default=200, help="steps per trajectory (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--workers", type=int, help="processes stepping (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from dexmv_learning.training.config import resolve
    from dexmv_learning.training.run_folder import RunFolder
    from dexmv_learning.training.sampler import Sampler
    from dexmv_learning.training.trainer import Trainer, configure_torch
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks import TASK_IDS

    if args.task not in TASK_IDS:
        print(f"error: unknown task '{args.task}': choose one of {', '.join(TASK_IDS)}", file=sys.stderr)
        return 2
    if args.trajectories < 1 or args.horizon < 1 or args.repeats < 1:
        print("error: --trajectories, --horizon and --repeats must be positive", file=sys.stderr)
        return 2
    configure_torch()
    config = resolve(args.task, "rl", 0, {"trajectories": args.trajectories, "horizon": args.horizon,
                                          "num_workers": args.workers or 0, "eval_every": 0})
    single = TaskSimulation(args.task)
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.6, size=(args.horizon, 30))  # like the initial policy's exploration noise
    one_thread, sampling, ratios, updates = [], [], [], []
    import tempfile

    with Sampler(args.task, args.trajectories, args.horizon, args.workers) as sampler, \
            tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, RunFolder(tmp), sampler=sampler)
        trainer.initialize()
        for r in range(args.repeats):
            steps = max(args.horizon, args.trajectories * args.horizon // 4)
            start = time.perf_counter()
            done = 0
            while done < steps:
                single.reset(np.random.default_rng(r * 1000 + done))
                for t in range(args.horizon):
                    single.step_action(noise[t])
                    single.task.outputs()
                done += args.horizon
            one = done / (time.perf_counter() - start)
            batch = sampler.sample(trainer.policy, 1000 + r, 2000 + r)
            rate = batch.steps / batch.seconds
            start = time.perf_counter()
            trainer._policy_update(batch, torch.Generator().manual_seed(r))
            updates.append(time.perf_counter() - start)
            one_thread.append(one)
            sampling.append(rate)
            ratios.append(rate / one)
    report = {"task": args.task, "trajectories": args.trajectories, "horizon": args.horizon,
              "workers": sampler.envs.num_workers, "one_thread_steps_per_s": statistics.median(one_thread),
              "sampling_steps_per_s": statistics.median(sampling), "sampling_vs_one_thread": statistics.median(ratios),
              "update_s": statistics.median(updates), "samples": {"one_thread": one_thread, "sampling": sampling,
                                                                  "update_s": updates}}
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.task}: sampling {report['sampling_steps_per_s']:.0f} env steps/s with {report['workers']} "
              f"processes (policy included) vs one thread {report['one_thread_steps_per_s']:.0f}/s: "
              f"x{report['sampling_vs_one_thread']:.2f}; update (TRPO + baseline) of {args.trajectories} x "
              f"{args.horizon} steps: {report['update_s']:.1f} s")
    return 0
