"""Behaviour cloning: regress the policy's mean on demonstrated actions (mean squared error, as
DAPG's BC pre-training does; the log-std is left alone, so the exploration noise RL starts with is
the configured one). Used on its own as the BC baseline and as the initialisation of DAPG.

Observation noise (`obs_noise`, in units of the policy's observation scale): each minibatch's
observations are perturbed with fresh Gaussian noise, so the policy also learns what the
demonstrations do *near* the states they visited. Why: a closed-loop rollout of the cloned policy
leaves the demonstrated states within tens of steps and its errors compound. On the converted can
demonstrations (10, 396 steps) the clean fit (MSE 1e-3) drifted the arm's lift slide 9 cm within 50
steps and lifted the can from none of the demonstrations' own initial states; with noise 0.1 (a
64 x 64 policy) it lifted it from 2-5 of the 10 (two seeds; the measurements: dexmv_learning's
README, Learning). Off by default (config bc.obs_noise): from fresh resets it did not help."""

from __future__ import annotations

import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy


def behaviour_cloning(policy: GaussianMLPPolicy, obs: torch.Tensor, actions: torch.Tensor, epochs: int,
                      batch_size: int, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                      obs_noise: float = 0.0) -> float:
    """`epochs` passes of shuffled minibatches; returns the last epoch's mean squared error (on the
    perturbed observations when obs_noise > 0)."""
    obs = torch.as_tensor(obs, dtype=torch.float32)
    actions = torch.as_tensor(actions, dtype=torch.float32)
    n, loss_sum = len(obs), 0.0
    if n == 0:
        raise ValueError("behaviour cloning needs at least one demonstrated (observation, action) pair")
    for _ in range(max(1, int(epochs))):
        order = torch.randperm(n, generator=generator)
        loss_sum = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            batch_obs = obs[idx]
            if obs_noise > 0:
                noise = torch.randn(batch_obs.shape, generator=generator)
                batch_obs = batch_obs + float(obs_noise) * policy.obs_scale * noise
            loss = ((policy.mean(batch_obs) - actions[idx]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
    return loss_sum / n


def bc_optimizer(policy: GaussianMLPPolicy, learning_rate: float) -> torch.optim.Adam:
    """Adam on the mean network only (the log-std is not a regression parameter)."""
    return torch.optim.Adam(policy.mean_net.parameters(), lr=learning_rate)
