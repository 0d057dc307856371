"""DAPG (Rajeswaran et al. 2018): behaviour cloning first, then the natural policy gradient on an
objective augmented with the demonstrations,

    g = sum_{(s,a) ~ policy} A(s,a) grad log pi(a|s)
        + sum_{(s,a) ~ demos} lambda0 * lambda1^k * max_{(s,a) ~ policy} A(s,a) * grad log pi(a|s)

where k is the iteration: the demonstrations act as state-action pairs with a high advantage whose
weight decays geometrically, so the policy is pulled towards them early and left to the task
reward later. Advantages are standardised per batch first (as DAPG's code does), so the demo
weight is on the scale of the best sample's advantage.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dexmv_learning.algos.policy import GaussianMLPPolicy


def demo_weight(iteration: int, lambda0: float, lambda1: float) -> float:
    """lambda0 * lambda1 ** iteration (iteration counted from 0, the first RL iteration)."""
    return float(lambda0) * float(lambda1) ** int(iteration)


DEMO_ADVANTAGE_UNITS = ("max", "std")


def demo_advantage(weight: float, advantages: torch.Tensor, units: str = "max") -> float:
    """The advantage every demonstrated pair gets: weight * max A ("max", the DAPG paper's formula)
    or weight itself in units of the standardised advantages' std ("std", what DAPG's and DexMV's
    released code do; there lambda0 is 0.01). With "max" the pull grows when a rare good sample
    raises max A, which offsets the lambda1^k decay."""
    if units == "max":
        return float(weight) * float(advantages.max())
    if units == "std":
        return float(weight)
    raise ValueError(f"demo advantage units must be one of {', '.join(DEMO_ADVANTAGE_UNITS)}, got '{units}'")


def augmented_surrogate(policy: GaussianMLPPolicy, obs: torch.Tensor, actions: torch.Tensor,
                        advantages: torch.Tensor, old_log_prob: torch.Tensor,
                        demo_obs: torch.Tensor | None = None, demo_actions: torch.Tensor | None = None,
                        demo_advantage: float = 0.0) -> Callable[[], torch.Tensor]:
    """The surrogate the TRPO step maximises: mean over all samples (policy and demos) of
    pi / pi_old * A, with A = demo_advantage for every demo pair (0 or no demos: plain TRPO/NPG).
    Its gradient at pi = pi_old is the DAPG gradient above (up to the 1 / count factor)."""
    use_demos = demo_obs is not None and len(demo_obs) > 0 and demo_advantage != 0.0
    if use_demos:
        with torch.no_grad():
            demo_old = policy.log_prob(demo_obs, demo_actions)
    total = len(obs) + (len(demo_obs) if use_demos else 0)

    def surrogate() -> torch.Tensor:
        ratio = torch.exp(policy.log_prob(obs, actions) - old_log_prob)
        value = (ratio * advantages).sum()
        if use_demos:
            demo_ratio = torch.exp(policy.log_prob(demo_obs, demo_actions) - demo_old)
            value = value + demo_advantage * demo_ratio.sum()
        return value / total

    return surrogate
