"""The policy-gradient step every method shares: natural gradient by conjugate gradient on
Fisher-vector products, scaled to a KL bound, then a backtracking line search (TRPO, Schulman et al.
2015; the natural policy gradient of Kakade 2001 that DAPG uses is this step without the search).

    g   = grad of the surrogate L(theta) = mean(pi_theta(a|s) / pi_old(a|s) * A)   (+ DAPG's demo term)
    x   = F^-1 g     (F: Hessian of the mean KL(pi_old || pi_theta) at theta_old, + damping * I;
                      10 conjugate-gradient iterations, F x products by double back-propagation)
    step = sqrt(2 * max_kl / x^T F x) * x
then halve the step until the surrogate improves and the mean KL stays within kl_tolerance * max_kl
(or give up and keep the old parameters). The full step's KL is max_kl only to second order; the
true KL of a step along the natural gradient is usually a little larger, so a test against max_kl
itself rejected nearly every full step and the run moved by quarter-KL half steps (measured: 0.0063
at every iteration with max_kl 0.025). TRPO's reference implementation (OpenAI baselines) accepts up
to 1.5 max_kl; DAPG's NPG takes the step without any test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from dexmv_learning.algos.policy import GaussianMLPPolicy, gaussian_kl


def flat_params(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def set_flat_params(module: nn.Module, flat: torch.Tensor) -> None:
    offset = 0
    with torch.no_grad():
        for p in module.parameters():
            n = p.numel()
            p.copy_(flat[offset:offset + n].view_as(p))
            offset += n


def flat_grad(output: torch.Tensor, module: nn.Module, create_graph: bool = False) -> torch.Tensor:
    grads = torch.autograd.grad(output, list(module.parameters()), create_graph=create_graph, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                      for g, p in zip(grads, module.parameters(), strict=True)])


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iterations: int = 10,
                       tolerance: float = 1e-10) -> torch.Tensor:
    """Approximately solve A x = b for symmetric positive definite A given as a product."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = torch.dot(r, r)
    for _ in range(iterations):
        if rr < tolerance:
            break
        ap = matvec(p)
        alpha = rr / torch.dot(p, ap)
        x += alpha * p
        r -= alpha * ap
        rr_new = torch.dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


@dataclass
class StepResult:
    surrogate_before: float
    surrogate_after: float
    kl: float
    step_fraction: float  # 1: the full step was taken; 0: no step (line search failed)
    grad_norm: float


def trpo_step(policy: GaussianMLPPolicy, surrogate: Callable[[], torch.Tensor], fisher_obs: torch.Tensor,
              max_kl: float, cg_iterations: int = 10, damping: float = 1e-4, backtracks: int = 10,
              fisher_stride: int = 1, kl_tolerance: float = 1.5) -> StepResult:
    """One KL-bounded natural-gradient step on `policy` maximising `surrogate()` (a scalar that
    reads the policy's current parameters); the KL is measured on `fisher_obs`. Fisher-vector
    products use every `fisher_stride`-th row only (TRPO's subsampling: F is an average, a fifth of
    40,000 samples estimates it well at a fifth of the cost); the line search's KL uses all rows."""
    with torch.no_grad():
        mean_old = policy.mean(fisher_obs)
        log_std_old = policy.log_std.detach().clone()
    old = flat_params(policy)
    value = surrogate()
    g = flat_grad(value, policy)
    before = value.item()

    def mean_kl(rows: slice | None = None) -> torch.Tensor:
        obs, mean = (fisher_obs, mean_old) if rows is None else (fisher_obs[rows], mean_old[rows])
        return gaussian_kl(mean, log_std_old, policy.mean(obs), policy.log_std).mean()

    sub = slice(None, None, max(1, int(fisher_stride)))

    def fisher_vector(v: torch.Tensor) -> torch.Tensor:
        grad_kl = flat_grad(mean_kl(sub), policy, create_graph=True)
        return flat_grad(torch.dot(grad_kl, v), policy) + damping * v

    grad_norm = float(g.norm())
    if not torch.isfinite(g).all() or grad_norm == 0.0:
        return StepResult(before, before, 0.0, 0.0, grad_norm)
    x = conjugate_gradient(fisher_vector, g, cg_iterations)
    shs = torch.dot(x, fisher_vector(x))
    if not torch.isfinite(shs) or shs <= 0:
        return StepResult(before, before, 0.0, 0.0, grad_norm)
    full = torch.sqrt(2.0 * max_kl / shs) * x
    fraction = 1.0
    for _ in range(max(1, backtracks)):
        set_flat_params(policy, old + fraction * full)
        with torch.no_grad():
            after, kl = float(surrogate()), float(mean_kl())
        if kl <= kl_tolerance * max_kl and after > before and torch.isfinite(torch.tensor(after)):
            return StepResult(before, after, kl, fraction, grad_norm)
        fraction *= 0.5
    set_flat_params(policy, old)
    return StepResult(before, before, 0.0, 0.0, grad_norm)
