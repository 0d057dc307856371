"""Training runs as Ray tasks: one `dexmv train --ray`, or every cell of `dexmv table1 --ray`.

Each run is one task that writes its run folder under the output folder, which must be storage
every node shares (NFS, a cluster file system): a task that starts (first, or again after its node
died: Ray retries it up to `retries` times) trains from the run folder's latest checkpoint, so a
lost node costs at most `checkpoint_every` iterations, and the results are those of an
uninterrupted run (resume is exact: training/sampler.py). Table 1 cells are evaluated by their
task too. A sweep started again with the same arguments continues where it stopped, as without
Ray.

A task reserves the CPUs its sampler uses (config num_workers, at least 1); with `actors` > 0 its
rollouts are spread over that many Ray actors (rollout_actors.py) that reserve their own CPUs, and
the task itself reserves one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETRIES = 3  # task retries after its worker process or node died (not after an error in the run)
POLL_S = 0.5  # how often the driver refreshes the progress view


@dataclass
class Job:
    """One run: its resolved configuration and run folder (on shared storage)."""

    name: str
    config: dict[str, Any]
    run: str
    episodes: int | None = None  # evaluate afterwards on this many episodes (Table 1 cells: eval.json)
    actors: int = 0              # rollout actors; 0: sample with the task's own processes

    @property
    def cpus(self) -> int:
        return 1 if self.actors else max(1, int(self.config.get("num_workers") or 1))


def run_job(job: Job, board: Any) -> dict[str, Any]:
    """The body of a run's Ray task: train (or resume) to the configured iterations, evaluate if asked."""
    import ray

    from dexmv_learning.cli.train import train_run
    from dexmv_learning.distributed.rollout_actors import RaySamplerFactory
    from dexmv_learning.evaluation.table1 import Cell, evaluate_cell, trained
    from dexmv_learning.training.run_folder import CHECKPOINT_RE, RunFolder

    folder, config = RunFolder(job.run), job.config
    latest = folder.latest_checkpoint()
    resumed_from = int(CHECKPOINT_RE.search(latest.name)[1]) if latest is not None else 0
    attempt = ray.get(board.start.remote(job.name, os.getpid(), ray.util.get_node_ip_address(), resumed_from,
                                         int(config["iterations"])))

    def report(row: dict[str, Any]) -> None:
        board.update.remote(job.name, {k: row.get(k) for k in ("iteration", "return_mean", "success_rate")
                                       if row.get(k) is not None})

    if not trained(folder, config):
        code = train_run(config, folder, resume=latest is not None, progress=False, on_iteration=report,
                         make_sampler=RaySamplerFactory(job.actors) if job.actors else None)
        if code != 0:
            ray.get(board.update.remote(job.name, {"status": f"failed (exit {code})"}))
            return {"name": job.name, "code": code, "attempt": attempt, "resumed_from": resumed_from}
    if job.episodes:
        board.update.remote(job.name, {"status": "evaluating"})
        evaluate_cell(Cell(config["task"], config["algo"], int(config["seed"]), Path(job.run)), job.episodes,
                      log=lambda message: None)
    ray.get(board.update.remote(job.name, {"status": "done", "iteration": int(config["iterations"])}))
    return {"name": job.name, "code": 0, "attempt": attempt, "resumed_from": resumed_from}


def run_jobs(jobs: Sequence[Job], address: str | None = None, progress: bool = True, retries: int = RETRIES,
             on_update: Callable[[dict[str, dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Run every job as a Ray task and wait for all; one result per job, in order ({name, code,
    attempt, resumed_from}, plus error for a task that failed for good).

    on_update(states) sees the progress board after each refresh (name -> iteration, attempt, pid,
    node, status, ...)."""
    from dexmv_learning.distributed.cluster import connect
    from dexmv_learning.distributed.progress import ProgressBoard, ProgressView

    ray = connect(address)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    check_fits(ray, jobs)

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    board = ray.remote(ProgressBoard).options(num_cpus=0, scheduling_strategy=here).remote()
    task = ray.remote(run_job)
    refs = {task.options(num_cpus=job.cpus, max_retries=retries, retry_exceptions=False, name=job.name)
            .remote(job, board): job for job in jobs}
    view = ProgressView([j.name for j in jobs], [int(j.config["iterations"]) for j in jobs], bars=progress)
    results: dict[str, dict[str, Any]] = {}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S)
            for ref in done:
                job = refs[ref]
                try:
                    results[job.name] = ray.get(ref)
                except ray.exceptions.RayError as err:
                    text = str(err).strip().splitlines()
                    last = next((line for line in reversed(text) if line.strip()), type(err).__name__)
                    results[job.name] = {"name": job.name, "code": 1, "error": last.strip()[:300]}
            states = ray.get(board.states.remote())
            for name, result in results.items():  # a task that failed for good cannot report it itself
                if result["code"] and "error" in result:
                    states.setdefault(name, {})["status"] = "failed"
            view.show(states)
            if on_update is not None:
                on_update(states)
    finally:
        view.close()
        ray.kill(board)
    return [results[j.name] for j in jobs]


def check_fits(ray: Any, jobs: Sequence[Job]) -> None:
    """RuntimeError (one line) when a run or its rollout actors ask for more CPUs than any node of
    the cluster has: Ray would wait for such a node for ever."""
    largest = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]), default=0)
    for job in jobs:
        need = max(job.cpus, int(job.config.get("num_workers") or 1) if job.actors else 0)
        if need > largest:
            raise RuntimeError(f"{job.name} needs {need} CPUs on one node (--workers) but the largest node of the "
                               f"Ray cluster has {largest:g}: lower --workers")


def failures(results: Sequence[dict[str, Any]]) -> str | None:
    """One line about the runs that failed, or None."""
    bad = [r for r in results if r["code"] != 0]
    if not bad:
        return None
    first = bad[0]
    why = first.get("error") or f"exit {first['code']}; its messages are in the Ray worker logs"
    return f"{len(bad)} of {len(results)} run(s) failed; {first['name']}: {why}"


def train_on_ray(config: dict[str, Any], out: str, address: str | None, actors: int = 0,
                 progress: bool = True) -> int:
    """`dexmv train --ray`: the run as one Ray task (resumed from its checkpoint if it has one)."""
    from dexmv_learning.training.run_folder import RunFolder

    config = dict(config, num_workers=config.get("num_workers") or 1)
    out = str(Path(out).resolve())
    job = Job(f"{config['algo']} {config['task']} seed {config['seed']}", config, out, actors=actors)
    problem = failures(run_jobs([job], address, progress))
    if problem:
        print(f"error: {problem}", flush=True)
        return 1
    rows = RunFolder(out).read_metrics()
    last = rows[-1] if rows else {}
    print(f"{out}: {last.get('iteration', 0)} iterations on Ray; last: return {last.get('return_mean') or '-'}, "
          f"eval success {last.get('eval_success_rate') or '-'}")
    return 0


def run_table_on_ray(out: str | Path, tasks: Sequence[str], algos: Sequence[str], seeds: Sequence[int],
                     overrides: dict[str, Any], demos_for: Callable[[str], str | None], episodes: int,
                     address: str | None, actors: int = 0, progress: bool = True,
                     on_update: Callable[[dict[str, dict[str, Any]]], None] | None = None) -> dict[str, Any]:
    """`dexmv table1 --ray`: every cell a Ray task (train or resume, then evaluate), then the table
    as evaluation/table1.run_table writes it."""
    from dexmv_learning.evaluation.table1 import cell_config, cells, write_table

    out = Path(out).resolve()
    jobs = []
    for cell in cells(out, tasks, algos, seeds):
        config = cell_config(cell, overrides, demos_for)
        config["num_workers"] = config.get("num_workers") or 1
        jobs.append(Job(f"{cell.task} {cell.algo} seed {cell.seed}", config, str(cell.run), episodes, actors))
    problem = failures(run_jobs(jobs, address, progress, on_update=on_update))
    if problem:
        raise RuntimeError(problem)
    return write_table(out, tasks, algos, seeds)
