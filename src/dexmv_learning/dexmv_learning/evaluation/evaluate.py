"""Evaluate a run's policy as DexMV's Table 1 does: the mean action (no exploration noise) on fresh
episodes; relocate reports the success rate (object within 0.1 m of the target and lifted 2 cm off
the table at the end of the episode: the env's success, stricter than DexMV's, see dexmv_sim),
pour the fraction of water poured into the container, place_inside the inside score.
Table 1 gives mean and standard deviation over training seeds: `dexmv table1` aggregates the
per-run figures this module computes.

Relocate also reports the success rate under DAPG's rule (the success held for more than 25 of the
200 steps, as DAPG's relocate evaluation counts, which DexMV's code builds on): where our last-step
result and DexMV's figure part, this shows how much is the rule and how much the behaviour.

Episodes are seeded from EVAL_SEED_BASE + the run seed's block, far from the seeds training
draws (stream_seed of the run seed), so evaluation episodes are not the training ones by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy
from dexmv_learning.training.checkpoint import CheckpointError, load_checkpoint

EVAL_SEED_BASE = 2_000_000_000
DAPG_GOAL_STEPS = 25  # DAPG's relocate evaluation: a success if the goal held for more than this many steps


def metric_name(task_id: str) -> str:
    """What Table 1 reports for a task."""
    if task_id == "pour":
        return "fraction poured"
    if task_id == "place_inside":
        return "inside score"
    return "success rate"


def policy_from_checkpoint(data: dict[str, Any], source: str = "checkpoint") -> GaussianMLPPolicy:
    """Rebuild the policy of a loaded checkpoint (CheckpointError on a mismatch)."""
    arch = data["policy_arch"]
    try:
        policy = GaussianMLPPolicy(int(arch["obs_dim"]), int(arch["act_dim"]), [int(h) for h in arch["hidden"]])
        policy.load_state_dict(data["policy"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{source}: the policy does not load ({first[:160]})") from None
    policy.eval()
    return policy


def load_run_policy(path: str | Path) -> tuple[GaussianMLPPolicy, dict[str, Any], Path]:
    """(policy, config, checkpoint path) of a run folder's latest checkpoint, or of a checkpoint file."""
    from dexmv_learning.training.run_folder import RunFolder

    path = Path(path)
    if path.is_dir():
        checkpoint = RunFolder(path).latest_checkpoint()
        if checkpoint is None:
            raise CheckpointError(f"{path} has no checkpoints/iter_*.pt (not a run folder, or no iteration done)")
    else:
        checkpoint = path
    data = load_checkpoint(checkpoint)
    return policy_from_checkpoint(data, str(checkpoint)), data["config"], checkpoint


@dataclass
class Evaluation:
    task: str
    episodes: int
    success_rate: float
    score_mean: float      # the Table 1 figure for pour / place_inside (relocate: = success rate)
    score_std: float       # over episodes
    scores: np.ndarray
    successes: np.ndarray
    steps_per_s: float
    success_steps: np.ndarray | None = None  # (episodes,) steps at which the success held

    @property
    def table_value(self) -> float:
        return self.success_rate if metric_name(self.task) == "success rate" else self.score_mean

    @property
    def success_rate_dapg_rule(self) -> float | None:
        """Relocate: the share of episodes whose success (our per-step test, lift included) held for
        more than DAPG_GOAL_STEPS steps, DAPG's evaluation rule; None for the other tasks (DexMV
        reports their scores) or without per-step counts."""
        if metric_name(self.task) != "success rate" or self.success_steps is None:
            return None
        return float(np.mean(self.success_steps > DAPG_GOAL_STEPS))


def evaluate_policy(policy: GaussianMLPPolicy, task: str, episodes: int = 100, seed: int = 0, horizon: int = 200,
                    num_workers: int | None = None) -> Evaluation:
    from dexmv_learning.training.sampler import Sampler

    torch.set_num_threads(1)
    with Sampler(task, episodes, horizon, num_workers) as sampler:
        if sampler.obs_dim != policy.obs_dim:
            raise CheckpointError(f"the policy takes {policy.obs_dim} observations, {task} gives {sampler.obs_dim}")
        batch = sampler.sample(policy, EVAL_SEED_BASE + 1000 * int(seed), None, deterministic=True)
    return Evaluation(task, episodes, float(batch.success.mean()), float(batch.score.mean()), float(batch.score.std()),
                      batch.score, batch.success, batch.steps / max(batch.seconds, 1e-9), batch.success_steps)


def record_video(policy: GaussianMLPPolicy, task: str, out: str | Path, episodes: int = 3, seed: int = 0,
                 horizon: int = 200, width: int = 480, height: int = 360, every: int = 2) -> Path:
    """An MP4 (or GIF) of a few mean-action episodes, the same first episodes as evaluate_policy's."""
    import gymnasium as gym

    import dexmv_sim  # noqa: F401  (registers the env ids)
    from dexmv_sim.envs import ENV_IDS
    from dexmv_sim.video import write_frames

    env = gym.make(ENV_IDS[task], render_mode="rgb_array", width=width, height=height, max_episode_steps=horizon)
    frames = []
    try:
        base = EVAL_SEED_BASE + 1000 * int(seed)
        for k in range(episodes):
            obs, _ = env.reset(seed=base + k)  # the vector env seeds environment k with base + k
            frames.append(env.render())
            for t in range(horizon):
                action = policy.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=True)[0]
                obs, _, _, _, _ = env.step(action.double().numpy())
                if t % every == every - 1:
                    frames.append(env.render())
    finally:
        env.close()
    write_frames(out, frames, fps=max(1, round(100 / every)))
    return Path(out)
