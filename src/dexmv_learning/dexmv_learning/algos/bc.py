"""Behaviour cloning: regress the policy's mean on demonstrated actions (mean squared error, as
DAPG's BC pre-training does; the log-std is left alone, so the exploration noise RL starts with is
the configured one). Used on its own as the BC baseline and as the initialisation of DAPG."""

from __future__ import annotations

import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy


def behaviour_cloning(policy: GaussianMLPPolicy, obs: torch.Tensor, actions: torch.Tensor, epochs: int,
                      batch_size: int, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> float:
    """`epochs` passes of shuffled minibatches; returns the last epoch's mean squared error."""
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
            loss = ((policy.mean(obs[idx]) - actions[idx]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
    return loss_sum / n


def bc_optimizer(policy: GaussianMLPPolicy, learning_rate: float) -> torch.optim.Adam:
    """Adam on the mean network only (the log-std is not a regression parameter)."""
    return torch.optim.Adam(policy.mean_net.parameters(), lr=learning_rate)
