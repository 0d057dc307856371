"""Gaussian MLP policy: a = mean(s) + exp(log_std) * noise, as in DAPG and DexMV.

The mean is an MLP with tanh hidden layers (DAPG and DexMV: 32 x 32) and a linear output; the
log standard deviation is one state-independent parameter per action dimension. Observations are
standardised by a fixed shift and scale set once before training (from the demonstrations when
there are any), as DAPG's MLP policy does with its in_shift/in_scale: joint angles (rad) and
distances (m) have different spreads, and a fixed transform keeps the function the policy computes
unchanged for the whole run, which a running normaliser would not (and resume would have to replay
it). The output is de-standardised the same way (DexMV's mjrl MuNet: out_shift/out_scale from the
demonstrated actions): mean(s) = act_shift + act_scale * net(s). The actions are absolute joint
targets, so the net then learns where each joint goes relative to the demonstrations' spread and
starts (small last layer) at the demonstrations' mean posture, not at the middle of every range.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """Linear layers with `activation` between them (none after the last)."""
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class GaussianMLPPolicy(nn.Module):
    """pi(a | s) = N(mean(s), diag(exp(log_std))^2)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (32, 32), init_log_std: float = -0.5,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), tuple(int(h) for h in hidden)
        self.mean_net = mlp([self.obs_dim, *self.hidden, self.act_dim])
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(init_log_std)))
        self.register_buffer("obs_shift", torch.zeros(self.obs_dim))
        self.register_buffer("obs_scale", torch.ones(self.obs_dim))
        self.register_buffer("act_shift", torch.zeros(self.act_dim))
        self.register_buffer("act_scale", torch.ones(self.act_dim))
        with torch.no_grad():
            for layer in self.mean_net:
                if isinstance(layer, nn.Linear):
                    _init_linear(layer, generator)
            # a small last layer: the first actions stay near the middle of each joint's range
            last = self.mean_net[-1]
            last.weight.mul_(0.01)
            last.bias.zero_()

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mean_net((obs - self.obs_shift) / self.obs_scale) * self.act_scale + self.act_shift

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a | s) per row."""
        return gaussian_log_prob(self.mean(obs), self.log_std, actions)

    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = False
            ) -> torch.Tensor:
        """Actions for a batch of observations (noise drawn from `generator` for reproducibility)."""
        with torch.no_grad():
            mean = self.mean(torch.as_tensor(obs, dtype=torch.float32))
            if deterministic:
                return mean
            noise = torch.randn(mean.shape, generator=generator)
            return mean + noise * self.log_std.exp()

    def architecture(self) -> dict:
        """What is needed to rebuild the module before loading its state dict."""
        return {"obs_dim": self.obs_dim, "act_dim": self.act_dim, "hidden": list(self.hidden)}


def _init_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    """Xavier-uniform weights from `generator` (torch's own init draws from the global RNG)."""
    fan_in, fan_out = layer.weight.shape[1], layer.weight.shape[0]
    bound = (6.0 / (fan_in + fan_out)) ** 0.5
    layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator) * 2 * bound - bound)
    layer.bias.zero_()


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    z = (actions - mean) / log_std.exp()
    return -0.5 * (z * z).sum(-1) - log_std.sum() - 0.5 * mean.shape[-1] * torch.log(torch.tensor(2 * torch.pi))


def gaussian_kl(mean_old: torch.Tensor, log_std_old: torch.Tensor, mean_new: torch.Tensor,
                log_std_new: torch.Tensor) -> torch.Tensor:
    """KL(old || new) per row, for diagonal Gaussians."""
    var_old, var_new = (2 * log_std_old).exp(), (2 * log_std_new).exp()
    return (log_std_new - log_std_old + (var_old + (mean_old - mean_new) ** 2) / (2 * var_new) - 0.5).sum(-1)


def init_linear_layers(module: nn.Module, generator: torch.Generator | None) -> None:
    """Seeded init for every Linear layer in `module` (used by the baseline and the auxiliary models)."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                _init_linear(layer, generator)
