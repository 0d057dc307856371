"""SOIL (Radosavovic et al. 2021): learning from state-only demonstrations. An inverse dynamics
model a_t = f(s_t, s_{t+1}) is trained on the policy's own transitions (the only state-action data
there is), labels the demonstrated state sequences with actions, and those labelled pairs enter
DAPG's augmented objective. Labels are recomputed every iteration, as the model improves with the
policy's growing experience (a buffer of the last few batches).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dexmv_learning.algos.policy import init_linear_layers, mlp


class InverseDynamics(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256), learning_rate: float = 1e-3,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), tuple(int(h) for h in hidden)
        self.net = mlp([2 * self.obs_dim, *self.hidden, self.act_dim], activation=nn.ReLU)
        init_linear_layers(self.net, generator)
        self.register_buffer("obs_shift", torch.zeros(self.obs_dim))
        self.register_buffer("obs_scale", torch.ones(self.obs_dim))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate)

    def forward(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        a = (obs - self.obs_shift) / self.obs_scale
        b = (next_obs - self.obs_shift) / self.obs_scale
        return self.net(torch.cat([a, b - a], dim=-1))

    def label(self, obs: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Actions for demonstrated transitions, clipped to the action range [-1, 1]."""
        with torch.no_grad():
            return self(torch.as_tensor(obs, dtype=torch.float32),
                        torch.as_tensor(next_obs, dtype=torch.float32)).clamp(-1.0, 1.0)

    def fit(self, obs: torch.Tensor, next_obs: torch.Tensor, actions: torch.Tensor, epochs: int, batch_size: int,
            generator: torch.Generator) -> float:
        """Mean squared error on the executed actions (clipped to [-1, 1], what the simulator applied);
        returns the last epoch's loss."""
        target = actions.clamp(-1.0, 1.0)
        n, loss_sum = len(obs), 0.0
        for _ in range(max(1, int(epochs))):
            order = torch.randperm(n, generator=generator)
            loss_sum = 0.0
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                loss = ((self(obs[idx], next_obs[idx]) - target[idx]) ** 2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                loss_sum += loss.item() * len(idx)
        return loss_sum / n
