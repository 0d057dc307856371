"""GAIL+ (DexMV's variant of Ho & Ermon 2016): a discriminator D(s, a) learns to tell demonstrated
state-action pairs (label 1) from the policy's (label 0), and -log(1 - D(s, a)) is a reward for
looking like the demonstrations. "+": it is added, weighted, to the task's own dense reward, and the
policy is trained by the same TRPO step as every other method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from dexmv_learning.algos.policy import init_linear_layers, mlp

MAX_REWARD = 10.0  # -log(1 - D) is unbounded as D -> 1: clipped so one sample cannot dominate a batch


class Discriminator(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (64, 64), learning_rate: float = 3e-4,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), tuple(int(h) for h in hidden)
        self.net = mlp([self.obs_dim + self.act_dim, *self.hidden, 1])
        init_linear_layers(self.net, generator)
        self.register_buffer("obs_shift", torch.zeros(self.obs_dim))
        self.register_buffer("obs_scale", torch.ones(self.obs_dim))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate)

    def logits(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(obs - self.obs_shift) / self.obs_scale, actions.clamp(-1.0, 1.0)], dim=-1)
        return self.net(x)[..., 0]

    def probability(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """D(s, a): the probability that (s, a) is demonstrated."""
        with torch.no_grad():
            return torch.sigmoid(self.logits(torch.as_tensor(obs, dtype=torch.float32),
                                             torch.as_tensor(actions, dtype=torch.float32)))

    def reward(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """-log(1 - D(s, a)) = softplus(logit), clipped to [0, MAX_REWARD]; shape of obs[..., 0]."""
        with torch.no_grad():
            logit = self.logits(torch.as_tensor(obs, dtype=torch.float32),
                                torch.as_tensor(actions, dtype=torch.float32))
            return torch.nn.functional.softplus(logit).clamp(0.0, MAX_REWARD).double().numpy()

    def fit(self, demo_obs: torch.Tensor, demo_actions: torch.Tensor, policy_obs: torch.Tensor,
            policy_actions: torch.Tensor, epochs: int, batch_size: int, generator: torch.Generator,
            gradient_penalty: float = 0.0) -> dict[str, float]:
        """Binary cross-entropy on balanced minibatches (each half demo, half policy; the smaller set
        is resampled), plus `gradient_penalty` / 2 times the squared gradient of the logit at the
        demonstrated pairs (R1, Mescheder et al. 2018; 0: none); returns the last epoch's loss and
        accuracy. Why the penalty: without it a discriminator that can tell the policy's states from
        the demonstrated ones drives its logits on the policy's pairs to -20 and the GAIL reward to
        ~1e-9, and GAIL+ becomes RL on the task reward (the learning README measures it)."""
        n = max(len(demo_obs), len(policy_obs))
        half = max(1, batch_size // 2)
        bce = nn.BCEWithLogitsLoss()
        loss_sum = correct = seen = 0.0
        for _ in range(max(1, int(epochs))):
            loss_sum = correct = seen = 0.0
            for _ in range(max(1, n // half)):
                d = torch.randint(len(demo_obs), (half,), generator=generator)
                p = torch.randint(len(policy_obs), (half,), generator=generator)
                d_obs, d_act = demo_obs[d], demo_actions[d]
                if gradient_penalty > 0:
                    d_obs, d_act = d_obs.clone().requires_grad_(True), d_act.clone().requires_grad_(True)
                demo_logits = self.logits(d_obs, d_act)
                logits = torch.cat([demo_logits, self.logits(policy_obs[p], policy_actions[p])])
                labels = torch.cat([torch.ones(half), torch.zeros(half)])
                loss = bce(logits, labels)
                bce_value = loss.item()  # reported without the penalty, comparable across settings
                if gradient_penalty > 0:
                    g_obs, g_act = torch.autograd.grad(demo_logits.sum(), [d_obs, d_act], create_graph=True)
                    penalty = (g_obs.pow(2).sum(-1) + g_act.pow(2).sum(-1)).mean()
                    loss = loss + 0.5 * gradient_penalty * penalty
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                loss_sum += bce_value * 2 * half
                correct += float(((logits > 0).float() == labels).sum())
                seen += 2 * half
        return {"disc_loss": loss_sum / seen, "disc_accuracy": correct / seen}
