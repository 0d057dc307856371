"""One run's rollouts spread over Ray actors, each holding a block of the batch's environments as a
dexmv_sim.vector.DexMVVectorEnv (stepped by that actor's own worker processes).

Results are those of the local Sampler (training/sampler.py) bit for bit, for the same seeds:
environment i of the batch is reset from env_seed + i whichever actor holds it (the vector env's
seeding is per environment and independent of the number of processes), and the policy runs here,
in the sampling process, on the whole batch at once, exactly as the local sampler runs it. Why not
in the actors: a float32 matrix product over a block of rows is not always bit-identical to the
same rows inside the full batch (small blocks take other BLAS kernels: measured, differences of
1e-9 with blocks of 1-3 rows), so actors that ran the policy on their block would drift from the
local run. The price is one round trip per control step (actions out, observations back), a small
share of a step of a block of environments (see `dexmv bench ray`).

A sample is stateless given its seeds and the policy: when an actor dies (its node went away), Ray
restarts it and the whole sample is drawn again, with the same result.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import numpy as np
import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy
from dexmv_learning.training.sampler import Batch, torch_generator

RESTARTS = 2  # actor restarts (and sample retries) after its process or node died
RESTART_WAIT_S = 300.0  # how long a sample waits for a restarting actor (a new node may have to start)


class EnvBlock:
    """Environments [first, first + count) of a batch (the body of a Ray actor)."""

    def __init__(self, task: str, first: int, count: int, horizon: int, workers: int) -> None:
        from dexmv_sim.vector import DexMVVectorEnv

        self.first, self.count = int(first), int(count)
        self.envs = DexMVVectorEnv(task, num_envs=self.count, num_workers=max(1, int(workers)),
                                   max_episode_steps=int(horizon))

    def pid(self) -> int:
        return os.getpid()

    def dims(self) -> tuple[int, int]:
        return self.envs.obs_dim, int(self.envs.single_action_space.shape[0])

    def reset(self, env_seed: int) -> np.ndarray:
        obs, _ = self.envs.reset(seed=[int(env_seed) + self.first + j for j in range(self.count)])
        return obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        obs, reward, _, _, info = self.envs.step(actions)
        return obs, reward, np.asarray(info["success"], dtype=bool), np.asarray(info["score"], dtype=np.float64)

    def close(self) -> None:
        self.envs.close()


def blocks(num_envs: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) of `parts` contiguous blocks as even as possible (none empty)."""
    parts = max(1, min(int(parts), int(num_envs)))
    sizes = [num_envs // parts + (1 if k < num_envs % parts else 0) for k in range(parts)]
    firsts = np.cumsum([0, *sizes[:-1]]).tolist()
    return list(zip(firsts, sizes, strict=True))


class RaySampler:
    """The Sampler interface (obs_dim, act_dim, sample, close) over `actors` Ray actors, each
    reserving and using `workers` CPUs (processes) for its block of environments."""

    def __init__(self, task: str, num_envs: int, horizon: int, actors: int, workers: int = 1) -> None:
        from dexmv_learning.distributed.cluster import import_ray

        self.ray = import_ray()
        self.task, self.num_envs, self.horizon, self.workers = task, int(num_envs), int(horizon), max(1, int(workers))
        self.blocks = blocks(self.num_envs, actors)
        remote = self.ray.remote(EnvBlock).options(num_cpus=self.workers, max_restarts=RESTARTS,
                                                   scheduling_strategy="SPREAD")
        self.actors = [remote.remote(task, first, count, self.horizon, self.workers) for first, count in self.blocks]
        try:
            self.obs_dim, self.act_dim = self.ray.get(self.actors[0].dims.remote())
        except BaseException:
            self.close()
            raise

    @property
    def num_actors(self) -> int:
        return len(self.actors)

    def sample(self, policy: GaussianMLPPolicy, env_seed: int, noise_seed: int | None,
               deterministic: bool = False) -> Batch:
        """As Sampler.sample; drawn again from the start if an actor died meanwhile."""
        for attempt in range(RESTARTS + 1):
            try:
                return self._sample(policy, env_seed, noise_seed, deterministic)
            except self.ray.exceptions.RayActorError:
                if attempt == RESTARTS:
                    raise
                self._wait_restarted()
        raise AssertionError("unreachable")

    def _wait_restarted(self, timeout_s: float = RESTART_WAIT_S) -> None:
        """Until every actor answers again (a restarting actor refuses calls meanwhile); an actor that
        is dead for good (restarts used up) raises at once."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.ray.get([a.dims.remote() for a in self.actors])
                return
            except self.ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _sample(self, policy: GaussianMLPPolicy, env_seed: int, noise_seed: int | None,
                deterministic: bool) -> Batch:
        ray, start = self.ray, time.perf_counter()
        n, horizon = self.num_envs, self.horizon
        generator = None if noise_seed is None else torch_generator(noise_seed)
        obs = np.empty((n, horizon + 1, self.obs_dim))
        actions = np.empty((n, horizon, self.act_dim))
        rewards = np.empty((n, horizon))
        success, score = np.zeros(n, dtype=bool), np.zeros(n)
        success_steps = np.zeros(n, dtype=np.int64)
        o = np.concatenate(ray.get([a.reset.remote(int(env_seed)) for a in self.actors]))
        obs[:, 0] = o
        for t in range(horizon):
            a = policy.act(torch.from_numpy(o).float(), generator=generator, deterministic=deterministic)
            actions[:, t] = a.double().numpy()
            parts = ray.get([actor.step.remote(actions[first:first + count, t])
                             for actor, (first, count) in zip(self.actors, self.blocks, strict=True)])
            for (first, count), (o_k, r_k, s_k, c_k) in zip(self.blocks, parts, strict=True):
                obs[first:first + count, t + 1] = o_k
                rewards[first:first + count, t] = r_k
                success[first:first + count], score[first:first + count] = s_k, c_k
            success_steps += success
            o = np.concatenate([part[0] for part in parts])  # contiguous, as the local sampler's
        return Batch(obs, actions, rewards, success, score, time.perf_counter() - start, success_steps)

    def close(self) -> None:
        actors, self.actors = getattr(self, "actors", []), []
        if actors:
            with contextlib.suppress(Exception):  # a dead actor has nothing left to close
                self.ray.get([a.close.remote() for a in actors], timeout=30)
            for actor in actors:
                self.ray.kill(actor)

    def __enter__(self) -> RaySampler:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RaySamplerFactory:
    """Builds RaySamplers with Sampler's signature (task, num_envs, horizon, num_workers), for
    `train_run(make_sampler=...)`: num_workers becomes each actor's processes."""

    def __init__(self, actors: int) -> None:
        self.actors = int(actors)

    def __call__(self, task: str, num_envs: int, horizon: int, num_workers: int | None = None) -> RaySampler:
        return RaySampler(task, num_envs, horizon, self.actors, num_workers or 1)
