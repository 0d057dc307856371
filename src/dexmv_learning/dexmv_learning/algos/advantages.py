"""Discounted returns and generalized advantage estimation (Schulman et al. 2016), per trajectory.

Trajectories here are fixed-horizon episodes (the tasks never terminate early; TimeLimit ends them
at the horizon), stacked as (N, T) arrays. As in DAPG's code, the horizon counts as the end of the
episode (no bootstrap beyond it): the value baseline sees the time step among its inputs, so the
value of the last state is learnt to be near zero rather than assumed.
"""

from __future__ import annotations

import numpy as np


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """R_t = sum_k gamma^k r_{t+k} along the last axis (N, T) -> (N, T)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.empty_like(rewards)
    running = np.zeros(rewards.shape[:-1])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out


def gae(rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Advantages A_t = sum_k (gamma lam)^k delta_{t+k}, delta_t = r_t + gamma V(s_{t+1}) - V(s_t).

    rewards (N, T); values (N, T + 1) with V(s_T) the value after the last step (0 for a terminal
    end of the episode).
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != rewards.shape[-1] + 1:
        raise ValueError(f"values need one more step than rewards: {values.shape} vs {rewards.shape}")
    deltas = rewards + gamma * values[..., 1:] - values[..., :-1]
    return discounted_returns(deltas, gamma * lam)
