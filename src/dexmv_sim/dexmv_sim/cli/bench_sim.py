"""Benchmark the simulation: env steps per second of our relocate env on one thread and over all
cores (DexMVVectorEnv worker processes), against gymnasium-robotics' AdroitHandRelocate-v1 measured
in the same run, on the same machine, with the same random action sequence.

Single-thread figures step `gymnasium.make(id)` envs (wrappers included, as users step them),
resetting at truncation; the measurements alternate between ours and the reference `--repeats`
times and the medians are reported, so load from other processes hits both alike.

examples:
  dexmv bench sim
  dexmv bench sim --task relocate-mug --steps 4000 --json
  dexmv bench sim --report bench-results/sim.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

HELP = "env steps/s of our relocate env (1 thread, all cores) vs gymnasium-robotics AdroitHandRelocate-v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="relocate-mustard_bottle", help="our task to step (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=2000, help="env steps per measurement (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--envs-per-worker", type=int, default=8, help="environments per worker (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of actions and episodes (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")


def _single_thread(env, actions) -> tuple[float, float]:
    """(steps per wall second, steps per CPU second of this process)."""
    env.reset(seed=0)
    cpu = time.process_time()
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start), len(actions) / (time.process_time() - cpu)


def _batched(vec, actions, num_envs: int) -> tuple[float, float]:
    """(steps per wall second, steps per worker CPU second)."""
    import numpy as np

    batches = max(1, len(actions) // num_envs)
    rng = np.random.default_rng(1)
    vec.reset(seed=0)
    cpu = vec.worker_cpu_seconds()
    start = time.perf_counter()
    for k in range(batches):
        rows = rng.integers(0, len(actions), num_envs) if k else np.arange(num_envs) % len(actions)
        vec.step(actions[rows])
    steps = batches * num_envs
    return steps / (time.perf_counter() - start), steps / max(vec.worker_cpu_seconds() - cpu, 1e-9)


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import mujoco
    import numpy as np

    import dexmv_sim
    from dexmv_sim.vector import DexMVVectorEnv

    with contextlib.redirect_stdout(sys.stderr):  # gymnasium_robotics prints a notice on import
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    if args.task not in dexmv_sim.ENV_IDS:
        print(f"error: unknown task '{args.task}': choose one of {', '.join(dexmv_sim.ENV_IDS)}", file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()[0]
    workers = args.workers or cores
    actions = np.random.default_rng(args.seed).uniform(-1, 1, (args.steps, 30)).astype(np.float32)
    ours = gym.make(dexmv_sim.ENV_IDS[args.task])
    reference = gym.make("AdroitHandRelocate-v1")
    ours_rates, ref_rates, ours_cpu = [], [], []
    for _ in range(args.repeats):
        wall, cpu = _single_thread(ours, actions)
        ours_rates.append(wall)
        ours_cpu.append(cpu)
        ref_rates.append(_single_thread(reference, actions)[0])
    ours.close()
    reference.close()
    num_envs = workers * args.envs_per_worker
    vec = DexMVVectorEnv(args.task, num_envs=num_envs, num_workers=workers)
    try:
        batched = [_batched(vec, actions, num_envs) for _ in range(args.repeats)]
    finally:
        vec.close()
    all_rates = [b[0] for b in batched]
    one, ref, many = (float(np.median(r)) for r in (ours_rates, ref_rates, all_rates))
    # CPU cost per step in the workers against the single thread's: 1.0 means batching adds no
    # work, so the all-cores figure is bounded by the cores actually free, not by our overhead
    worker_efficiency = float(np.median([b[1] for b in batched]) / np.median(ours_cpu))
    report = {
        "benchmark": "sim",
        "task": args.task,
        "ours_steps_per_s_1thread": round(one, 1),
        "gymnasium_robotics_steps_per_s_1thread": round(ref, 1),
        "ours_steps_per_s_all_cores": round(many, 1),
        "ratio_1thread_vs_gymnasium_robotics": round(one / ref, 3),
        "speedup_all_cores_vs_1thread": round(many / one, 3),
        "worker_cpu_efficiency_vs_1thread": round(worker_efficiency, 3),
        "workers": workers,
        "envs_per_worker": args.envs_per_worker,
        "samples": {"ours_1thread": [round(r, 1) for r in ours_rates],
                    "gymnasium_robotics_1thread": [round(r, 1) for r in ref_rates],
                    "ours_all_cores": [round(r, 1) for r in all_rates]},
        "steps_per_measurement": args.steps,
        "machine": {"cpus": cores, "load_average_1min_before": round(load_before, 2),
                    "load_average_1min_after": round(os.getloadavg()[0], 2),
                    "mujoco": mujoco.__version__, "gymnasium": gym.__version__,
                    "gymnasium_robotics": getattr(gymnasium_robotics, "__version__", "?"),
                    "numpy": np.__version__},
    }
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'measurement':48s} {'steps/s':>10s}")
    print(f"{'ours ' + args.task + ', 1 thread':48s} {one:10.0f}")
    print(f"{'gymnasium-robotics AdroitHandRelocate-v1, 1 thread':48s} {ref:10.0f}")
    print(f"{f'ours, {workers} workers x {args.envs_per_worker} envs':48s} {many:10.0f}")
    print(f"ratio ours/reference (1 thread): {one / ref:.2f}   all cores vs 1 thread: x{many / one:.2f}")
    print(f"worker steps per CPU second vs 1 thread: {worker_efficiency:.2f} "
          f"(ideal all-cores speedup on {workers} free cores: x{workers * worker_efficiency:.2f})")
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {cores} cores "
          "(other processes on the cores lower the all-cores figure most)")
    if args.report:
        print(f"report: {args.report}")
    return 0
