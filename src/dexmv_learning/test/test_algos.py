"""The algorithms on tiny problems with known answers: GAE by hand, the conjugate-gradient natural
gradient against an explicit Fisher matrix, the TRPO step's improvement within its KL bound, the
DAPG schedule and gradient, GAIL's discriminator, SOIL's inverse model and behaviour cloning."""

import itertools

import numpy as np
import pytest
import torch

from dexmv_learning.algos.advantages import discounted_returns, gae
from dexmv_learning.algos.bc import bc_optimizer, behaviour_cloning
from dexmv_learning.algos.dapg import augmented_surrogate, demo_advantage, demo_weight
from dexmv_learning.algos.gail import Discriminator
from dexmv_learning.algos.npg import conjugate_gradient, flat_grad, flat_params, trpo_step
from dexmv_learning.algos.policy import GaussianMLPPolicy, gaussian_kl
from dexmv_learning.algos.soil import InverseDynamics

torch.set_num_threads(1)  # as training does: tiny matrices, and intra-op threads only contend for the cores


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gae_matches_hand_computation():
    r = np.array([[1.0, 0.0, 2.0]])
    v = np.array([[0.5, 1.0, -1.0, 0.0]])
    g, lam = 0.9, 0.8
    d0, d1, d2 = 1 + g * 1.0 - 0.5, 0 + g * -1.0 - 1.0, 2 + g * 0.0 + 1.0
    expected = [d0 + g * lam * d1 + (g * lam) ** 2 * d2, d1 + g * lam * d2, d2]
    np.testing.assert_allclose(gae(r, v, g, lam)[0], expected)
    np.testing.assert_allclose(discounted_returns(r, g)[0], [1 + 0.81 * 2, 0.9 * 2, 2])
    # lambda = 1 with a zero baseline is the discounted return; lambda = 0 is the one-step TD error
    np.testing.assert_allclose(gae(r, np.zeros((1, 4)), g, 1.0), discounted_returns(r, g))
    np.testing.assert_allclose(gae(r, v, g, 0.0)[0], [d0, d1, d2])
    with pytest.raises(ValueError):
        gae(r, np.zeros((1, 3)), g, lam)


def test_conjugate_gradient_solves_spd_system():
    a = torch.tensor([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]])
    b = torch.tensor([1.0, -2.0, 0.5])
    x = conjugate_gradient(lambda v: a @ v, b, iterations=10)
    torch.testing.assert_close(x, torch.linalg.solve(a, b), atol=1e-5, rtol=1e-5)


def _problem(n=512, seed=0):
    torch.manual_seed(seed)
    policy = GaussianMLPPolicy(3, 2, (8, 8), init_log_std=-0.5, generator=gen(seed))
    obs = torch.randn(n, 3)
    actions = policy.act(obs, generator=gen(seed + 1))
    # better actions: those above the mean in the first dimension where obs[0] > 0
    with torch.no_grad():
        adv = torch.sign(obs[:, 0]) * (actions[:, 0] - policy.mean(obs)[:, 0])
    adv = (adv - adv.mean()) / adv.std()
    with torch.no_grad():
        old = policy.log_prob(obs, actions)
    return policy, obs, actions, adv, old


def test_trpo_step_improves_surrogate_within_kl_bound():
    policy, obs, actions, adv, old = _problem()
    surrogate = augmented_surrogate(policy, obs, actions, adv, old)
    before_params = flat_params(policy)
    with torch.no_grad():
        mean_old, log_std_old = policy.mean(obs), policy.log_std.clone()
    result = trpo_step(policy, surrogate, obs, max_kl=0.01, cg_iterations=10, damping=1e-4)
    with torch.no_grad():
        kl = gaussian_kl(mean_old, log_std_old, policy.mean(obs), policy.log_std).mean().item()
    assert result.step_fraction > 0
    assert result.surrogate_after > result.surrogate_before + 1e-4
    assert kl <= 1.5 * 0.01 + 1e-6 and kl == pytest.approx(result.kl, rel=1e-4)
    assert kl > 0.001  # the step used a real part of its budget
    assert not torch.equal(before_params, flat_params(policy))
    # a larger bound allows a larger (still bounded) step
    policy2, obs2, actions2, adv2, old2 = _problem()
    result2 = trpo_step(policy2, augmented_surrogate(policy2, obs2, actions2, adv2, old2), obs2, max_kl=0.05)
    assert result.kl < result2.kl <= 1.5 * 0.05 + 1e-6


def test_trpo_line_search_keeps_the_full_step_a_little_past_the_quadratic_kl():
    """The full step is sized so that its second-order KL is max_kl; its true KL is a little more.
    Testing against max_kl itself halves such a step (a quarter of the KL budget); the tolerance
    keeps it whole, and a tolerance of 1 still enforces the plain bound."""
    results = {}
    for tolerance in (1.0, 1.5):
        policy, obs, actions, adv, old = _problem()
        results[tolerance] = trpo_step(policy, augmented_surrogate(policy, obs, actions, adv, old), obs,
                                       max_kl=0.05, kl_tolerance=tolerance)
    strict, tolerant = results[1.0], results[1.5]
    assert tolerant.step_fraction == 1.0 and 0.05 < tolerant.kl <= 0.075, tolerant
    assert strict.step_fraction == 0.5 and strict.kl <= 0.05, strict
    assert tolerant.surrogate_after > strict.surrogate_after


def test_natural_gradient_matches_explicit_fisher():
    """CG on double-backprop Fisher-vector products gives F^-1 g with F built column by column."""
    policy, obs, actions, adv, old = _problem(n=256)
    g = flat_grad(augmented_surrogate(policy, obs, actions, adv, old)(), policy)
    with torch.no_grad():
        mean_old, log_std_old = policy.mean(obs), policy.log_std.clone()

    def fvp(v):
        kl = gaussian_kl(mean_old, log_std_old, policy.mean(obs), policy.log_std).mean()
        grad = flat_grad(kl, policy, create_graph=True)
        return flat_grad(torch.dot(grad, v), policy) + 1e-3 * v

    n = g.numel()
    fisher = torch.stack([fvp(e) for e in torch.eye(n)], dim=1)
    torch.testing.assert_close(fisher, fisher.T, atol=1e-5, rtol=1e-4)
    x = conjugate_gradient(fvp, g, iterations=200, tolerance=1e-14)
    expected = torch.linalg.solve(fisher.double(), g.double()).float()
    assert torch.nn.functional.cosine_similarity(x, expected, dim=0) > 0.999


def test_trpo_step_rejects_a_step_that_cannot_improve():
    policy, obs, actions, _, old = _problem()
    zero = torch.zeros(len(obs))
    result = trpo_step(policy, augmented_surrogate(policy, obs, actions, zero, old), obs, max_kl=0.01)
    assert result.step_fraction == 0.0 and result.kl == 0.0


def test_dapg_weight_schedule_and_gradient():
    assert demo_weight(0, 0.1, 0.95) == pytest.approx(0.1)
    assert demo_weight(10, 0.1, 0.95) == pytest.approx(0.1 * 0.95**10)
    weights = [demo_weight(k, 0.1, 0.95) for k in range(50)]
    assert all(a > b > 0 for a, b in itertools.pairwise(weights))
    policy, obs, actions, adv, old = _problem(n=64)
    demo_obs, demo_actions = torch.randn(16, 3), torch.randn(16, 2)
    w = 0.3
    grad = flat_grad(augmented_surrogate(policy, obs, actions, adv, old, demo_obs, demo_actions, w)(), policy)
    # at pi = pi_old: (sum A grad log pi + sum w grad log pi(demo)) / (N + N_demo)
    expected_obj = ((adv * policy.log_prob(obs, actions)).sum()
                    + w * policy.log_prob(demo_obs, demo_actions).sum()) / (64 + 16)
    torch.testing.assert_close(grad, flat_grad(expected_obj, policy), atol=1e-6, rtol=1e-4)
    # the demo term pulls the mean towards the demonstrated actions
    plain = flat_grad(augmented_surrogate(policy, obs, actions, adv, old)(), policy)
    assert not torch.allclose(grad, plain)


def test_gail_discriminator_separates_two_distributions():
    g = gen(0)
    demo_obs, demo_act = torch.randn(2000, 4, generator=g) + 1.5, torch.full((2000, 2), 0.5)
    pol_obs, pol_act = torch.randn(2000, 4, generator=g) - 1.5, torch.full((2000, 2), -0.5)
    disc = Discriminator(4, 2, (32, 32), learning_rate=3e-3, generator=gen(1))
    stats = disc.fit(demo_obs, demo_act, pol_obs, pol_act, epochs=3, batch_size=256, generator=gen(2))
    assert stats["disc_accuracy"] > 0.95
    assert disc.probability(demo_obs, demo_act).mean() > 0.9 > 0.1 > disc.probability(pol_obs, pol_act).mean()
    r_demo, r_pol = disc.reward(demo_obs, demo_act), disc.reward(pol_obs, pol_act)
    assert r_demo.mean() > 2.0 > 0.1 > r_pol.mean() >= 0.0
    assert r_demo.max() <= 10.0


def test_gail_gradient_penalty_keeps_the_reward_from_vanishing_on_separable_data():
    """Two distributions a discriminator can tell apart everywhere: without the R1 penalty its reward
    on the policy's pairs vanishes (GAIL+ would be RL); with it the discriminator stays softer (18x
    the reward here; on the can's batch 0.001 -> 0.6 per step) and still ranks demonstrated pairs
    above the policy's."""
    g = gen(0)
    demo_obs, demo_act = torch.randn(2000, 4, generator=g) + 1.5, torch.full((2000, 2), 0.5)
    pol_obs, pol_act = torch.randn(2000, 4, generator=g) - 1.5, torch.full((2000, 2), -0.5)
    rewards = {}
    for penalty in (0.0, 10.0):
        disc = Discriminator(4, 2, (32, 32), learning_rate=3e-3, generator=gen(1))
        for _ in range(10):
            stats = disc.fit(demo_obs, demo_act, pol_obs, pol_act, epochs=1, batch_size=256, generator=gen(2),
                             gradient_penalty=penalty)
        rewards[penalty] = (disc.reward(demo_obs, demo_act).mean(), disc.reward(pol_obs, pol_act).mean())
        assert stats["disc_loss"] >= 0.0 and 0.5 <= stats["disc_accuracy"] <= 1.0
    assert rewards[0.0][1] < 0.005, rewards  # saturated
    assert rewards[10.0][1] > 10 * rewards[0.0][1], rewards  # softer: a reward the policy can climb
    assert rewards[10.0][0] > rewards[10.0][1] + 0.1, rewards  # still prefers the demonstrated pairs


def test_soil_inverse_model_fits_known_dynamics():
    """s' = s + B a: the inverse model recovers a from (s, s') on held-out transitions."""
    g = gen(0)
    b = torch.randn(6, 3, generator=g) * 0.5
    s = torch.randn(4000, 6, generator=g)
    a = torch.rand(4000, 3, generator=g) * 2 - 1
    s_next = s + a @ b.T
    model = InverseDynamics(6, 3, (64, 64), learning_rate=3e-3, generator=gen(1))
    loss = model.fit(s[:3000], s_next[:3000], a[:3000], epochs=30, batch_size=128, generator=gen(2))
    labels = model.label(s[3000:], s_next[3000:])
    error = ((labels - a[3000:]) ** 2).mean().item()
    assert loss < 0.01 and error < 0.01, (loss, error)
    assert error < 0.03 * a.var().item() * 3  # far below guessing the mean action (variance 1/3)


def test_behaviour_cloning_fits_demonstrated_actions():
    g = gen(0)
    policy = GaussianMLPPolicy(5, 2, (32, 32), generator=gen(1))
    obs = torch.randn(1000, 5, generator=g)
    actions = torch.tanh(obs[:, :2] * 0.5)
    log_std = policy.log_std.detach().clone()
    before = ((policy.mean(obs) - actions) ** 2).mean().item()
    loss = behaviour_cloning(policy, obs, actions, 40, 32, bc_optimizer(policy, 3e-3), gen(2))
    assert loss < 0.1 * before
    assert torch.equal(policy.log_std.detach(), log_std)  # BC leaves the exploration noise alone


def test_policy_output_normalisation_fits_absolute_targets_faster():
    """Absolute joint targets vary little around an offset (a joint near one posture): with the
    output de-standardised by the demonstrations' shift/scale the policy starts at their mean and
    BC fits them far better in the same epochs than a policy regressing raw values."""
    g = gen(0)
    obs = torch.randn(2000, 5, generator=g)
    actions = 0.7 + 0.05 * torch.tanh(obs[:, :2])
    plain = GaussianMLPPolicy(5, 2, (32, 32), generator=gen(1))
    scaled = GaussianMLPPolicy(5, 2, (32, 32), generator=gen(1))
    scaled.act_shift.copy_(actions.mean(0))
    scaled.act_scale.copy_(actions.std(0))
    assert torch.allclose(scaled.mean(obs[:10]), actions.mean(0).expand(10, 2), atol=0.01)
    losses = [behaviour_cloning(p, obs, actions, 3, 32, bc_optimizer(p, 1e-3), gen(2)) for p in (plain, scaled)]
    assert losses[1] < 0.2 * losses[0], losses
    # the transform is part of the state dict: a checkpoint restores the same function
    copy = GaussianMLPPolicy(5, 2, (32, 32))
    copy.load_state_dict(scaled.state_dict())
    assert torch.equal(copy.mean(obs), scaled.mean(obs))


def test_demo_advantage_units_paper_and_code():
    advantages = torch.tensor([-1.0, 0.0, 0.5, 4.0])
    w = demo_weight(3, 0.1, 0.95)
    assert demo_advantage(w, advantages, "max") == pytest.approx(w * 4.0)  # DAPG paper
    assert demo_advantage(w, advantages, "std") == pytest.approx(w)  # DAPG's / DexMV's code
    # the paper's form follows max A: one rare good sample raises every demonstrated pair's weight
    assert demo_advantage(w, torch.cat([advantages, torch.tensor([18.0])]), "max") == pytest.approx(w * 18.0)
    with pytest.raises(ValueError, match="demo advantage units"):
        demo_advantage(w, advantages, "mean")



def test_observation_noise_makes_the_clone_flat_across_the_demonstrated_states():
    """Demonstrations visit a thin set of states (converted demos: a few curves in the hand's 39-D
    observation), so a clean fit is free to change its action steeply across them, and a rollout
    that leaves them a little gets far-off actions and drifts (the cloned can policy's lift slide,
    see algos/bc.py). Here every demonstrated state has y = x and the action is x: across the
    diagonal, the clean clone's slope is whatever its initialisation left; with noise on the
    observations during BC it has to fit x from both noisy copies, and comes out flat across."""
    x = torch.linspace(-1, 1, 2000).unsqueeze(1)
    obs, actions = torch.cat([x, x], dim=1), 0.8 * x
    across = torch.tensor([[1.0, -1.0]]) / 2 ** 0.5
    slopes, fits = {0.0: [], 0.3: []}, []
    for init in (1, 5, 9):
        for noise in (0.0, 0.3):
            policy = GaussianMLPPolicy(2, 1, (64, 64), generator=gen(init))
            policy.obs_scale.copy_(obs.std(0))
            behaviour_cloning(policy, obs, actions, 20, 32, bc_optimizer(policy, 1e-3), gen(2), obs_noise=noise)
            with torch.no_grad():
                fits.append(((policy.mean(obs) - actions) ** 2).mean().item())
                step = 0.1
                slope = (policy.mean(obs + step * across) - policy.mean(obs - step * across)) / (2 * step)
                slopes[noise].append(slope.abs().mean().item())
    assert max(fits) < 0.01, fits  # both imitate on the demonstrated states (the actions' variance: 0.21)
    assert max(slopes[0.3]) < 0.05, slopes  # flat across with noise, whatever the initialisation
    assert max(slopes[0.0]) > 0.2, slopes  # without, the initialisation decides
