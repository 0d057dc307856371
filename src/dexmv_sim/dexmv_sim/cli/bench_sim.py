"""Benchmark the simulation: env steps per second of our relocate env on one thread and over all
cores (DexMVVectorEnv worker processes), against gymnasium-robotics' AdroitHandRelocate-v1 measured
in the same run, on the same machine, with the same random action sequence.

What each figure steps: the same task, the same episodes and actions, whole 200-step episodes
(one reset per 200 counted steps everywhere). Episode j is reset with seed + j and replays row j
of a random action table; there are --steps / 200 episodes, rounded up to a multiple of the
number of batched environments, so that every figure steps exactly the same episodes (their cost
differs by up to ~30 % with the contacts they make, so figures over different episodes would not
compare):
- 1 thread: a `gymnasium.make(id)` env (wrappers included, as users step them), all episodes.
- independent processes: one such single-thread loop per worker, in separate processes started
  together and never synchronized, process k stepping episodes k, k + N, k + 2N, ...: the most
  this machine gives for N processes of our env, so the ceiling that batching is judged against
  (it includes what N busy cores cost each other: shared caches, memory bandwidth, the
  hypervisor).
- all cores: DexMVVectorEnv with `--workers` stepping processes (the main process one of them
  unless --no-step-in-main) x `--envs-per-worker` envs; environment i
  is seeded seed + i and its episode e replays row i + e * num_envs, so every environment's
  first episode is exactly the single thread's episode i (later ones continue the environment's
  generator, so their initial object poses differ); NEXT_STEP autoreset, the reset steps not
  counted as env steps.

The measurements alternate `--repeats` times (1 thread, reference, independent, all cores) so
load from other processes hits all alike; rates are the medians of the rounds, ratios the medians
of each round's ratios (a round's figures are seconds apart; the host's speed drifts more between
rounds), and every sample and per-round ratio is in the JSON. CPU time per step (process CPU time;
workers read from /proc, the main process included) is reported beside wall-clock rates: it is
what batching costs in work, and moves far less than wall clock when other processes share the
cores. `other_load_cores` says how many cores other processes kept busy during the run.

Beside the speed figures, `scripted_success`: for each relocate object, the share of
--scripted-seeds episodes (seeds 0, 1, ...) that dexmv_sim.scripted.RelocateSolver ends successful
at step 200, the horizon (--scripted-seeds 0 skips it).

examples:
  dexmv bench sim
  dexmv bench sim --task relocate-mug --steps 4000 --json
  dexmv bench sim --report bench-results/sim.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

HELP = "env steps/s of our relocate env (1 thread, all cores) vs gymnasium-robotics AdroitHandRelocate-v1"
HORIZON = 200  # steps per episode (dexmv_sim.scene.HORIZON; not imported here to keep --help light)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="relocate-mustard_bottle", help="our task to step (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="env steps per measurement, at least; rounded up to whole episodes and to a "
                             "multiple of the batched environments (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per core this process may use)")
    # 16: per-batch costs (wake-ups, the last environment's step that one process waits for) are
    # paid once per 16 env steps per worker; with 8 the main process's own CPU (sleeping, not
    # stepping) was 1.5 % of the workers', with 16 0.9 % (2 workers, measured)
    parser.add_argument("--envs-per-worker", type=int, default=16,
                        help="environments per worker (default: %(default)s)")
    parser.add_argument("--no-step-in-main", dest="step_in_main", action="store_false",
                        help="batch: all --workers are worker processes and the main process sleeps while they "
                             "step (default: the main process steps a share, beside --workers - 1 processes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of actions and episodes (default: %(default)s)")
    parser.add_argument("--scripted-seeds", type=int, default=10,
                        help="episodes per relocate object for scripted_success, 0 to skip (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")


def _single_thread(env, actions, seeds) -> tuple[float, float, float, float]:
    """Whole episodes of `actions` (episodes x HORIZON x 30), episode j reset with seeds[j]:
    (start, end, CPU seconds, steps)."""
    cpu = time.process_time()
    start = time.perf_counter()
    for episode, seed in zip(actions, seeds, strict=True):
        env.reset(seed=int(seed))
        for action in episode:
            env.step(action)
    end = time.perf_counter()
    return start, end, time.process_time() - cpu, actions.shape[0] * actions.shape[1]


def _independent_worker(conn, env_id: str) -> None:
    """One single-thread loop in its own process: the uncoordinated parallel reference."""
    import gymnasium as gym

    import dexmv_sim  # noqa: F401 - registers the ids

    env = gym.make(env_id)
    conn.send(os.getpid())
    while (job := conn.recv()) is not None:
        actions, seeds = job
        conn.send(_single_thread(env, actions, seeds))
    env.close()


class _Independent:
    """N processes that each step their own env when asked, all at once."""

    def __init__(self, env_id: str, count: int) -> None:
        import multiprocessing as mp

        from dexmv_sim.vector import _main_module_hidden

        ctx = mp.get_context("spawn")
        self.conns, self.procs = [], []
        for _ in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_independent_worker, args=(child, env_id), daemon=True)
            with _main_module_hidden():
                proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
        self.pids = [conn.recv() for conn in self.conns]

    def run(self, table, seed: int) -> tuple[float, float, float]:
        """Process k steps episodes k, k + N, ... of the table: (steps per wall second over all, CPU s
        per step, steps)."""
        import numpy as np

        count = len(self.conns)
        for k, conn in enumerate(self.conns):
            rows = np.arange(k, len(table), count)
            conn.send((table[rows], seed + rows))
        results = [conn.recv() for conn in self.conns]
        steps = sum(r[3] for r in results)
        wall = max(r[1] for r in results) - min(r[0] for r in results)
        return steps / wall, sum(r[2] for r in results) / steps, steps

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


def _batched(vec, actions, seed: int, episodes: int) -> tuple[float, float, float, float]:
    """`episodes` whole episodes per environment: (steps per wall second, worker processes' CPU s
    per step, main process's CPU s per step, steps). The NEXT_STEP reset steps run but are not
    counted."""
    import numpy as np

    n = vec.num_envs
    vec.reset(seed=seed)
    workers0, main0 = vec.worker_cpu_seconds(), time.process_time()
    start = time.perf_counter()
    for e in range(episodes):
        rows = np.arange(n) + e * n  # env i, episode e: single-thread episode i + e n
        chunk = actions[rows]  # (n, HORIZON, 30)
        if e:
            vec.step(chunk[:, 0])  # the autoreset step after the previous episode's truncation
        for k in range(HORIZON):
            vec.step(chunk[:, k])
    wall = time.perf_counter() - start
    steps = episodes * HORIZON * n
    return (steps / wall, (vec.worker_cpu_seconds() - workers0) / steps, (time.process_time() - main0) / steps,
            steps)


def _busy_cpu_seconds() -> float:
    """CPU seconds all processes on this machine have used (Linux /proc/stat, all cores)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _median(values) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import mujoco
    import numpy as np

    import dexmv_sim
    from dexmv_sim.vector import DexMVVectorEnv, default_num_workers, process_cpu_seconds

    with contextlib.redirect_stdout(sys.stderr):  # gymnasium_robotics prints a notice on import
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    if args.task not in dexmv_sim.ENV_IDS:
        print(f"error: unknown task '{args.task}': choose one of {', '.join(dexmv_sim.ENV_IDS)}", file=sys.stderr)
        return 2
    if args.steps < 1 or args.repeats < 1 or args.envs_per_worker < 1 or (args.workers or 1) < 1:
        print("error: --steps, --repeats, --workers and --envs-per-worker must be at least 1", file=sys.stderr)
        return 2
    if args.scripted_seeds < 0:
        print("error: --scripted-seeds must be 0 or more", file=sys.stderr)
        return 2
    cores = default_num_workers()
    workers = args.workers or cores
    num_envs = workers * args.envs_per_worker
    # one action table, row j for episode j everywhere; env i of the batch, episode e: row i + e num_envs
    batch_episodes = math.ceil(math.ceil(args.steps / HORIZON) / num_envs)
    episodes = batch_episodes * num_envs
    actions = np.random.default_rng(args.seed).uniform(-1, 1, (episodes, HORIZON, 30)).astype(np.float32)
    seeds = args.seed + np.arange(episodes)
    env_id = dexmv_sim.ENV_IDS[args.task]
    load_before = os.getloadavg()[0]
    busy0, own0 = _busy_cpu_seconds(), time.process_time()
    wall0 = time.perf_counter()

    ours = gym.make(env_id)
    reference = gym.make("AdroitHandRelocate-v1")
    independent = _Independent(env_id, workers)
    vec = DexMVVectorEnv(args.task, num_envs=num_envs, num_workers=workers, step_in_main=args.step_in_main)
    samples: dict[str, list[float]] = {k: [] for k in ("ours_1thread", "gymnasium_robotics_1thread",
                                                      "ours_independent_processes", "ours_all_cores")}
    cpu: dict[str, list[float]] = {k: [] for k in ("single", "independent", "workers", "main")}
    children_cpu = 0.0
    try:
        for _ in range(args.repeats):
            start, end, seconds, steps = _single_thread(ours, actions, seeds)
            samples["ours_1thread"].append(steps / (end - start))
            cpu["single"].append(seconds / steps)
            start, end, _, steps = _single_thread(reference, actions, seeds)
            samples["gymnasium_robotics_1thread"].append(steps / (end - start))
            rate, per_step, _ = independent.run(actions, args.seed)
            samples["ours_independent_processes"].append(rate)
            cpu["independent"].append(per_step)
            rate, worker_s, main_s, _ = _batched(vec, actions, args.seed, batch_episodes)
            samples["ours_all_cores"].append(rate)
            cpu["workers"].append(worker_s)
            cpu["main"].append(main_s)
        children_cpu = vec.worker_cpu_seconds() + sum(process_cpu_seconds(pid) for pid in independent.pids)
    finally:
        vec.close()
        independent.close()
        ours.close()
        reference.close()
    wall = time.perf_counter() - wall0
    other_cores = max(0.0, (_busy_cpu_seconds() - busy0 - (time.process_time() - own0) - children_cpu) / wall)

    one, ref, indep, many = (_median(samples[k]) for k in samples)
    # ratios within each round (measured seconds apart), then their median: the host's speed drifts
    # between rounds by more than the effects measured here (up to 35 % on a 2-vCPU VM)
    pairs = (("1thread_vs_gymnasium_robotics", "ours_1thread", "gymnasium_robotics_1thread"),
             ("all_cores_vs_1thread", "ours_all_cores", "ours_1thread"),
             ("independent_processes_vs_1thread", "ours_independent_processes", "ours_1thread"),
             ("all_cores_vs_independent_processes", "ours_all_cores", "ours_independent_processes"))
    per_round = {name: [a / b for a, b in zip(samples[top], samples[bottom], strict=True)]
                 for name, top, bottom in pairs}
    ratio = {name: _median(values) for name, values in per_round.items()}
    single_cpu, indep_cpu, worker_cpu, main_cpu = (_median(cpu[k]) for k in cpu)
    batch_cpu = worker_cpu + main_cpu
    report = {
        "benchmark": "sim",
        "task": args.task,
        "ours_steps_per_s_1thread": round(one, 1),
        "gymnasium_robotics_steps_per_s_1thread": round(ref, 1),
        "ours_steps_per_s_all_cores": round(many, 1),
        "ours_steps_per_s_independent_processes": round(indep, 1),
        "ratio_1thread_vs_gymnasium_robotics": round(ratio["1thread_vs_gymnasium_robotics"], 3),
        "speedup_all_cores_vs_1thread": round(ratio["all_cores_vs_1thread"], 3),
        # the machine's own ceiling for `workers` busy processes, and how close batching comes to it
        "speedup_independent_processes_vs_1thread": round(ratio["independent_processes_vs_1thread"], 3),
        "all_cores_vs_independent_processes": round(ratio["all_cores_vs_independent_processes"], 3),
        "ratios_per_round": {name: [round(r, 3) for r in values] for name, values in per_round.items()},
        # CPU per step against the single thread's (1.0: no extra work), the main process counted
        "batched_cpu_efficiency_vs_1thread": round(single_cpu / batch_cpu, 3),
        "independent_cpu_efficiency_vs_1thread": round(single_cpu / indep_cpu, 3),
        "cpu_us_per_step": {"ours_1thread": round(single_cpu * 1e6, 1),
                            "independent_processes": round(indep_cpu * 1e6, 1),
                            "all_cores": round(batch_cpu * 1e6, 1),
                            "all_cores_main_process": round(main_cpu * 1e6, 1)},
        "workers": workers,
        "step_in_main": args.step_in_main,
        "envs_per_worker": args.envs_per_worker,
        "samples": {k: [round(r, 1) for r in v] for k, v in samples.items()},
        "steps_per_measurement": episodes * HORIZON,
        "machine": {"cpus": cores, "load_average_1min_before": round(load_before, 2),
                    "load_average_1min_after": round(os.getloadavg()[0], 2),
                    "other_load_cores": round(other_cores, 2),
                    "mujoco": mujoco.__version__, "gymnasium": gym.__version__,
                    "gymnasium_robotics": getattr(gymnasium_robotics, "__version__", "?"),
                    "numpy": np.__version__},
    }
    report["scripted_success"] = _scripted_success(args.scripted_seeds)
    report["scripted_seeds"] = args.scripted_seeds
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'measurement':52s} {'steps/s':>10s} {'CPU us/step':>12s}")
    print(f"{'ours ' + args.task + ', 1 thread':52s} {one:10.0f} {single_cpu * 1e6:12.0f}")
    print(f"{'gymnasium-robotics AdroitHandRelocate-v1, 1 thread':52s} {ref:10.0f}")
    print(f"{f'ours, {workers} independent processes (the ceiling)':52s} {indep:10.0f} {indep_cpu * 1e6:12.0f}")
    batched = f"ours, batched: {workers} processes x {args.envs_per_worker} envs"
    print(f"{batched:52s} {many:10.0f} {batch_cpu * 1e6:12.0f}")
    print(f"ratio ours/reference (1 thread): {ratio['1thread_vs_gymnasium_robotics']:.2f}   all cores vs 1 thread: "
          f"x{ratio['all_cores_vs_1thread']:.2f} (independent processes: "
          f"x{ratio['independent_processes_vs_1thread']:.2f})   [medians of the per-round ratios]")
    share = "main process stepping" if args.step_in_main else "main process sleeping"
    print(f"CPU efficiency vs 1 thread: batched {single_cpu / batch_cpu:.2f} ({share}: {main_cpu / batch_cpu:.1%} of "
          f"the batch's CPU), independent processes {single_cpu / indep_cpu:.2f}")
    print(f"load: {other_cores:.2f} of {cores} cores busy with other processes during the run; load average "
          f"before/after {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    if other_cores > 0.2 * cores:
        # Linux autogroup scheduling shares the cores between sessions whatever their nice values,
        # so another session's busy process takes its share from all of our processes together
        print("note: other processes kept the cores busy, so the multi-core figures above say more about the "
              "load than about batching; compare them on a quiet machine")
    if report["scripted_success"]:
        print(f"scripted solver, success at step {HORIZON} over {args.scripted_seeds} seeds: "
              + ", ".join(f"{k} {v:.1f}" for k, v in report["scripted_success"].items()))
    if args.report:
        print(f"report: {args.report}")
    return 0


def _scripted_success(seeds: int) -> dict[str, float]:
    """Share of `seeds` episodes each relocate object's scripted solver ends successful."""
    from tqdm import tqdm

    from dexmv_sim.scripted import solve_episode
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks.relocate import RELOCATE_OBJECTS

    if seeds == 0:
        return {}
    out = {}
    with tqdm(total=seeds * len(RELOCATE_OBJECTS), desc="scripted solver", unit="episode", file=sys.stderr) as bar:
        for name in RELOCATE_OBJECTS:
            sim = TaskSimulation(f"relocate-{name}")
            wins = 0
            for seed in range(seeds):
                wins += solve_episode(sim, seed, HORIZON)
                bar.update()
            out[name] = round(wins / seeds, 3)
    return out
