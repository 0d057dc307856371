"""Trajectories of a policy on the batched simulator (dexmv_sim.vector): all of an iteration's
trajectories step together, one row per environment, for `horizon` control steps.

Reproducibility: iteration k of a run with seed s resets the environments from
`stream_seed(s, k, "env")` (environment i gets that + i) and draws the policy's action noise from a
torch generator seeded with `stream_seed(s, k, "noise")`, so an iteration's samples depend on the
run seed, the iteration and the policy only, never on what ran before in the process: a resumed
run samples exactly what the uninterrupted run sampled. The batched envs give bit-identical
episodes whatever the number of worker processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy

STREAMS = {"env": 0, "noise": 1, "update": 2, "eval": 3, "init": 4}


def stream_seed(seed: int, iteration: int, stream: str) -> int:
    """A 31-bit seed for one random stream of one iteration of a run."""
    return int(np.random.SeedSequence([int(seed), int(iteration), STREAMS[stream]]).generate_state(1)[0] >> 1)


def torch_generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


@dataclass
class Batch:
    """N trajectories of T steps."""

    obs: np.ndarray        # (N, T + 1, obs_dim): observations before each step and after the last
    actions: np.ndarray    # (N, T, act_dim): the sampled actions (before the env clips them)
    rewards: np.ndarray    # (N, T) task rewards
    success: np.ndarray    # (N,) the episode's result: success at its last step
    score: np.ndarray      # (N,) score at the last step (relocate 0/1, pour fraction poured, ...)
    seconds: float         # wall time of sampling
    # (N,) steps at which the task's success held (an episode's own result is its last step's);
    # DAPG's relocate evaluation counts an episode held more than 25 of them (evaluation.evaluate)
    success_steps: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return int(self.rewards.size)


class Sampler:
    """The batched environments of one task, reused across iterations."""

    def __init__(self, task: str, num_envs: int, horizon: int, num_workers: int | None = None) -> None:
        from dexmv_sim.vector import DexMVVectorEnv

        self.task, self.num_envs, self.horizon = task, int(num_envs), int(horizon)
        self.envs = DexMVVectorEnv(task, num_envs=self.num_envs, num_workers=num_workers or None,
                                   max_episode_steps=self.horizon)
        self.obs_dim = self.envs.obs_dim
        self.act_dim = int(self.envs.single_action_space.shape[0])

    def sample(self, policy: GaussianMLPPolicy, env_seed: int, noise_seed: int | None,
               deterministic: bool = False) -> Batch:
        """One trajectory per environment; noise_seed None with deterministic=True: mean actions."""
        start = time.perf_counter()
        n, horizon = self.num_envs, self.horizon
        generator = None if noise_seed is None else torch_generator(noise_seed)
        obs = np.empty((n, horizon + 1, self.obs_dim))
        actions = np.empty((n, horizon, self.act_dim))
        rewards = np.empty((n, horizon))
        o, _ = self.envs.reset(seed=int(env_seed))
        obs[:, 0] = o
        info: dict = {}
        success_steps = np.zeros(n, dtype=np.int64)
        for t in range(horizon):
            a = policy.act(torch.from_numpy(o).float(), generator=generator, deterministic=deterministic)
            actions[:, t] = a.double().numpy()
            o, r, _, _, info = self.envs.step(actions[:, t])
            obs[:, t + 1] = o
            rewards[:, t] = r
            success_steps += np.asarray(info["success"], dtype=bool)
        return Batch(obs, actions, rewards, np.asarray(info["success"], dtype=bool).copy(),
                     np.asarray(info["score"], dtype=np.float64).copy(), time.perf_counter() - start, success_steps)

    def close(self) -> None:
        self.envs.close()

    def __enter__(self) -> Sampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
