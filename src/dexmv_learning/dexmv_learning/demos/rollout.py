"""Record a physical rollout of normalized actions as a Demonstration: what the env would report.

Every demonstration source (converted human motion, scripted motion) ends here, so observations,
rewards, success and the stored sim states are exactly what `gym.make(env_id)` gives for the same
start state and actions: the env steps the same TaskSimulation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dexmv_learning.demos.dataset import Demonstration


def stored_actions(actions: np.ndarray) -> np.ndarray:
    """`actions` as a dataset keeps them (float32, within [-1, 1]), in float64 to step with.

    A demonstration must be what its stored actions do. Pour's 63 frictionless particles amplify
    the float32 rounding of an action (1e-8) into a different pour: a demonstration stepped with
    the unrounded actions scored 1.0, its stored actions replayed from its stored start 0.0."""
    return np.clip(np.asarray(actions, dtype=np.float32), -1.0, 1.0).astype(np.float64)


def record_rollout(sim, actions: np.ndarray, *, reference_qpos: np.ndarray | None = None,
                   seed: int | None = None, source: dict[str, Any] | None = None,
                   on_step: Callable[[int], None] | None = None) -> Demonstration:
    """Step `sim` (a dexmv_sim TaskSimulation, already reset to the start state) through `actions`
    (T, 30) and record observations, rewards, success, score and the integration state before
    every step and after the last. on_step(t) runs after step t (t = 1..T) and once at t = 0."""
    actions = stored_actions(actions)
    t_total = len(actions)
    obs = np.empty((t_total + 1, sim.obs_dim))
    states = np.empty((t_total + 1, sim.state_size))
    rewards = np.empty(t_total)
    success = np.zeros(t_total + 1, bool)
    score = np.zeros(t_total + 1)
    out = sim.task.outputs()
    obs[0], success[0], score[0] = out.observation, out.success, out.score
    sim.get_state(out=states[0])
    if on_step:
        on_step(0)
    for t, action in enumerate(actions):
        sim.step_action(action)
        out = sim.task.outputs()
        obs[t + 1], rewards[t], success[t + 1], score[t + 1] = out.observation, out.reward, out.success, out.score
        sim.get_state(out=states[t + 1])
        if on_step:
            on_step(t + 1)
    truncations = np.zeros(t_total, bool)
    truncations[-1] = True
    return Demonstration(
        task_id=sim.task_id, observations=obs.astype(np.float32), actions=actions.astype(np.float32),
        rewards=rewards.astype(np.float32), terminations=np.zeros(t_total, bool), truncations=truncations,
        states=states, success=success, score=score.astype(np.float32),
        reference_qpos=None if reference_qpos is None else np.asarray(reference_qpos, np.float64),
        seed=seed, source=dict(source or {}))
