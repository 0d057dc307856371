"""Scale-out on Ray (the optional extra), on a Ray of this machine only (2 CPUs, loopback, one
instance for the module): rollouts spread over Ray actors are bit-identical to local sampling, also when an actor is
killed mid-batch; a
Table 1 sweep of 2 runs as Ray tasks gives the local sweep's results; a run whose worker process is
killed mid-run is retried by Ray, resumes from its checkpoint and ends as an uninterrupted run;
`dexmv train --ray --ray-actors 1` gives the local run's results; `dexmv bench ray` reports the ratio."""

import argparse
import csv
import json
import os
import signal

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray", reason="the optional Ray extra is not installed (DEXMV_EXTRAS=ray make setup)")

from dexmv_learning.algos.policy import GaussianMLPPolicy  # noqa: E402
from dexmv_learning.distributed import sweep  # noqa: E402
from dexmv_learning.distributed.rollout_actors import RaySampler, blocks  # noqa: E402
from dexmv_learning.training.config import resolve  # noqa: E402
from dexmv_learning.training.run_folder import RunFolder  # noqa: E402
from dexmv_learning.training.sampler import Sampler, torch_generator  # noqa: E402

TASK = "relocate-tomato_soup_can"
TIME_COLUMNS = {"wall_s", "sample_s", "update_s", "steps_per_s"}
TINY = {"iterations": 2, "trajectories": 4, "horizon": 20, "num_workers": 1, "eval_every": 0, "checkpoint_every": 1}


@pytest.fixture(scope="module")
def local_ray():
    from dexmv_learning.distributed.cluster import LOOPBACK_SWITCH, connect

    names = ("RAY_ADDRESS", LOOPBACK_SWITCH, "RAY_USAGE_STATS_ENABLED")
    saved = {name: os.environ.get(name) for name in names}  # the rest of the suite sees them unchanged
    os.environ.pop("RAY_ADDRESS", None)  # never join a cluster from a test
    if ray.is_initialized():
        ray.shutdown()
    module = connect("local", num_cpus=2)
    assert [node["NodeManagerAddress"] for node in module.nodes()] == ["127.0.0.1"]  # loopback only
    yield module
    module.shutdown()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _metrics(run) -> list[dict[str, str]]:
    with open(RunFolder(run).metrics_path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in csv.DictReader(f)]


def test_blocks_cover_the_batch_evenly():
    assert blocks(7, 2) == [(0, 4), (4, 3)]
    assert blocks(2, 5) == [(0, 1), (1, 1)]
    assert sum(c for _, c in blocks(200, 8)) == 200


def test_ray_actor_sampling_is_identical_to_local_sampling(local_ray):
    torch.set_num_threads(1)
    with Sampler(TASK, 7, 15, num_workers=1) as local, RaySampler(TASK, 7, 15, actors=2) as remote:
        assert remote.num_actors == 2 and (remote.obs_dim, remote.act_dim) == (local.obs_dim, local.act_dim)
        policy = GaussianMLPPolicy(local.obs_dim, local.act_dim, [32, 32], -0.5, generator=torch_generator(3))
        for env_seed, noise_seed, deterministic in ((11, 12, False), (5, None, True)):
            a = local.sample(policy, env_seed, noise_seed, deterministic)
            b = remote.sample(policy, env_seed, noise_seed, deterministic)
            for key in ("obs", "actions", "rewards", "success", "score", "success_steps"):
                assert np.array_equal(getattr(a, key), getattr(b, key)), key
        other = remote.sample(policy, 12, 12)  # another env seed: another batch (the test can fail)
        assert not np.array_equal(other.obs, a.obs)


def test_an_actor_killed_mid_sample_is_restarted_and_the_batch_is_the_same(local_ray):
    torch.set_num_threads(1)
    with Sampler(TASK, 5, 10, num_workers=1) as local, RaySampler(TASK, 5, 10, actors=2) as remote:
        policy = GaussianMLPPolicy(local.obs_dim, local.act_dim, [32, 32], -0.5, generator=torch_generator(1))
        expected = local.sample(policy, 3, 4)
        pid = ray.get(remote.actors[1].pid.remote())

        class KillAtStep3:  # the policy, and a node failure in the middle of the batch
            calls = 0

            def act(self, obs, generator=None, deterministic=False):
                self.calls += 1
                if self.calls == 3:
                    os.kill(pid, signal.SIGKILL)
                return policy.act(obs, generator=generator, deterministic=deterministic)

        killer = KillAtStep3()
        batch = remote.sample(killer, 3, 4)
        assert killer.calls > 10  # drawn again from the start (10 steps per sample)
        assert ray.get(remote.actors[1].pid.remote()) != pid  # a new process
        for key in ("obs", "actions", "rewards", "success", "score"):
            assert np.array_equal(getattr(batch, key), getattr(expected, key)), key


def test_table1_sweep_on_ray_matches_the_local_sweep(local_ray, tmp_path):
    from dexmv_learning.evaluation.table1 import run_table

    args = ([TASK], ["rl"], [0, 1], TINY, lambda task: None, 2)
    run_table(tmp_path / "local", *args, progress=False, log=lambda m: None)
    seen = []
    sweep.run_table_on_ray(tmp_path / "ray", *args, address="local", progress=False, on_update=seen.append)
    for seed in (0, 1):
        cell = f"runs/{TASK}/rl/seed{seed}"
        assert _metrics(tmp_path / "ray" / cell) == _metrics(tmp_path / "local" / cell)
        assert len(_metrics(tmp_path / "ray" / cell)) == 2
        local_eval, ray_eval = (json.loads((tmp_path / w / cell / "eval.json").read_text()) for w in ("local", "ray"))
        assert {k: local_eval[k] for k in ("value", "success_rate", "score_mean", "episodes")} == \
            {k: ray_eval[k] for k in ("value", "success_rate", "score_mean", "episodes")}
    assert (tmp_path / "ray" / "table1.csv").read_text() == (tmp_path / "local" / "table1.csv").read_text()
    final = seen[-1]
    assert {s["status"] for s in final.values()} == {"done"} and len(final) == 2
    # started again: both cells are done, nothing is trained again
    results = sweep.run_jobs([sweep.Job("again", dict(resolve(TASK, "rl", 0, TINY)), str(tmp_path / "ray" /
                              f"runs/{TASK}/rl/seed0"), episodes=2)], "local", progress=False)
    assert results[0]["code"] == 0 and results[0]["resumed_from"] == 2


def test_a_killed_run_resumes_from_its_checkpoint_and_completes(local_ray, tmp_path, monkeypatch):
    from dexmv_learning.cli.train import train_run

    overrides = dict(TINY, iterations=8, horizon=30)
    config = resolve(TASK, "rl", 3, overrides)
    assert train_run(dict(config), RunFolder(tmp_path / "local"), progress=False) == 0
    killed = []

    def kill_once(states):  # the driver's view after each refresh: kill the run's worker mid-run
        state = states.get("run")
        if not killed and state and 2 <= (state.get("iteration") or 0) < config["iterations"]:
            os.kill(state["pid"], signal.SIGKILL)
            killed.append(state["iteration"])

    monkeypatch.setattr(sweep, "POLL_S", 0.1)
    job = sweep.Job("run", dict(config), str(tmp_path / "ray"))
    result = sweep.run_jobs([job], "local", progress=False, on_update=kill_once)[0]
    assert killed, "the run finished before it could be killed"
    assert result["code"] == 0 and result["attempt"] == 2
    assert 1 <= result["resumed_from"] <= killed[0] + 1  # the checkpoint at (or just after) the kill
    assert _metrics(tmp_path / "ray") == _metrics(tmp_path / "local")


def test_train_cli_with_ray_actors_matches_a_local_run(local_ray, tmp_path, capsys):
    from dexmv_learning.cli import train

    def args(out, **extra):
        parser = argparse.ArgumentParser()
        train.add_arguments(parser)
        argv = ["--task", TASK, "--algo", "rl", "--seed", "4", "--iterations", "2", "--trajectories", "5",
                "--horizon", "20", "--workers", "1", "--eval-every", "0", "--no-progress", "--out", str(out)]
        for key, value in extra.items():
            argv += [f"--{key.replace('_', '-')}", *([] if value is True else [str(value)])]
        return parser.parse_args(argv)

    assert train.run(args(tmp_path / "local")) == 0
    assert train.run(args(tmp_path / "ray", ray=True, ray_actors=1)) == 0
    assert "2 iterations on Ray" in capsys.readouterr().out
    assert _metrics(tmp_path / "ray") == _metrics(tmp_path / "local")
    assert train.run(args(tmp_path / "bad", ray=True, ray_actors=-1)) == 2
    parsed = args(tmp_path / "too-wide", ray=True)
    parsed.workers = 3  # more CPUs than the 2-CPU Ray has: one line, not a wait for ever
    assert train.run(parsed) == 2
    assert "largest node of the Ray cluster has 2" in capsys.readouterr().err


def test_bench_ray_reports_the_ratio_and_identical_batches(local_ray, tmp_path):
    from dexmv_learning.cli import bench_ray

    parser = argparse.ArgumentParser()
    bench_ray.add_arguments(parser)
    report = tmp_path / "ray.json"
    code = bench_ray.run(parser.parse_args(["--trajectories", "6", "--horizon", "10", "--repeats", "1",
                                            "--report", str(report)]))
    data = json.loads(report.read_text())
    assert code == 0 and data["identical"] is True
    assert data["ray_vs_local"] > 0 and data["local_processes"] == 2
