"""Value baseline V(s, t): an MLP regressed on the discounted returns of the latest batch (DAPG's
MLP baseline: a few epochs of Adam on minibatches, every iteration).

Inputs are the observation (standardised with the policy's fixed shift/scale) and the time step
t / horizon: with a fixed horizon the same state is worth less near the end of an episode.
Targets are standardised per fit (returns in the hundreds would take Adam many epochs to reach
at a 1e-3 learning rate): the net predicts (R - shift) / scale and shift/scale are kept with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from dexmv_learning.algos.policy import init_linear_layers, mlp


class ValueBaseline(nn.Module):
    def __init__(self, obs_dim: int, hidden: Sequence[int] = (64, 64), learning_rate: float = 1e-3,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim, self.hidden = int(obs_dim), tuple(int(h) for h in hidden)
        self.net = mlp([self.obs_dim + 1, *self.hidden, 1])
        init_linear_layers(self.net, generator)
        self.register_buffer("obs_shift", torch.zeros(self.obs_dim))
        self.register_buffer("obs_scale", torch.ones(self.obs_dim))
        self.register_buffer("ret_shift", torch.zeros(()))
        self.register_buffer("ret_scale", torch.ones(()))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate)

    def _features(self, obs: torch.Tensor, time_fraction: torch.Tensor) -> torch.Tensor:
        return torch.cat([(obs - self.obs_shift) / self.obs_scale, time_fraction[..., None]], dim=-1)

    def predict(self, obs: np.ndarray | torch.Tensor, time_fraction: np.ndarray | torch.Tensor) -> np.ndarray:
        """Values of observations (..., obs_dim) at time fractions t / horizon (...)."""
        with torch.no_grad():
            x = self._features(torch.as_tensor(obs, dtype=torch.float32),
                               torch.as_tensor(time_fraction, dtype=torch.float32))
            return (self.net(x)[..., 0] * self.ret_scale + self.ret_shift).double().numpy()

    def fit(self, obs: np.ndarray, time_fraction: np.ndarray, returns: np.ndarray, epochs: int, batch_size: int,
            generator: torch.Generator) -> float:
        """Regress on returns for `epochs` passes of shuffled minibatches; returns the last epoch's
        mean squared error in standardised units."""
        x = self._features(torch.as_tensor(obs, dtype=torch.float32).reshape(-1, self.obs_dim),
                           torch.as_tensor(time_fraction, dtype=torch.float32).reshape(-1))
        y = torch.as_tensor(returns, dtype=torch.float32).reshape(-1)
        self.ret_shift.copy_(y.mean())
        self.ret_scale.copy_(y.std().clamp_min(1e-6))
        y = (y - self.ret_shift) / self.ret_scale
        n, loss_sum = len(y), 0.0
        for _ in range(max(1, int(epochs))):
            order = torch.randperm(n, generator=generator)
            loss_sum = 0.0
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                loss = ((self.net(x[idx])[:, 0] - y[idx]) ** 2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                loss_sum += loss.item() * len(idx)
        return loss_sum / n
