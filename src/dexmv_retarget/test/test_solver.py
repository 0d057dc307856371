"""Stage 2: analytic gradient, and our solver against the SLSQP reference on the same objective."""

import numpy as np
import pytest

from dexmv_retarget.initial_guess import InitialGuess
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.reference import SLSQPSolver
from dexmv_retarget.solver import FrameProblem, ProjectedLevenbergMarquardt, SolverSettings, TSVObjective
from dexmv_retarget.task_vectors import NUM_VECTORS, task_vectors


@pytest.fixture(scope="module")
def setup():
    kin = AdroitKinematics()
    return kin, TSVObjective(kin, SolverSettings()), InitialGuess(kin)


def _problem(kin, seed, noise=0.01):
    rng = np.random.default_rng(seed)
    q_true = rng.uniform(kin.lower, kin.upper)
    kp = kin.keypoints(q_true) + rng.normal(scale=noise, size=(21, 3))
    return kp, FrameProblem(task_vectors(kp), np.ones(NUM_VECTORS), kp[0], 1.0, q_true, np.ones(30, bool))


def test_gradient_matches_finite_differences(setup):
    kin, obj, _ = setup
    _, problem = _problem(kin, 0, noise=0.03)  # large errors: both Huber branches are exercised
    q = np.random.default_rng(1).uniform(kin.lower, kin.upper)
    _, grad = obj.cost_and_gradient(q, problem)
    eps = 1e-7
    numeric = np.array([(obj.evaluate(q + eps * e, problem, False).cost
                         - obj.evaluate(q - eps * e, problem, False).cost) / (2 * eps) for e in np.eye(30)])
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


def test_lm_reaches_the_reference_optimum_from_the_initial_guess(setup):
    kin, obj, guess = setup
    lm, ref = ProjectedLevenbergMarquardt(obj), SLSQPSolver(obj)
    for seed in range(4):
        kp, problem = _problem(kin, seed + 10)
        q0 = guess.guess(kp)
        problem.q_prev = q0
        a, b = lm.solve(q0, problem), ref.solve(q0, problem)
        assert kin.limit_violation(a.q) == 0.0 and kin.limit_violation(b.q) == 0.0
        assert a.cost <= b.cost * 1.02 + 1e-9, (seed, a.cost, b.cost)
        assert a.cost < obj.evaluate(q0, problem, False).cost


def test_unreachable_targets_end_on_the_bounds_not_beyond(setup):
    kin, obj, _ = setup
    q = np.zeros(30)
    kp = kin.keypoints(q)
    problem = FrameProblem(3.0 * task_vectors(kp), np.ones(NUM_VECTORS), kp[0] + [2.0, 2.0, 2.0], 1.0, q,
                           np.ones(30, bool))
    res = ProjectedLevenbergMarquardt(obj).solve(q, problem)
    assert kin.limit_violation(res.q) == 0.0
    assert np.isclose(res.q, kin.lower).any() or np.isclose(res.q, kin.upper).any()


def test_held_joints_do_not_move(setup):
    kin, obj, _ = setup
    _, problem = _problem(kin, 3)
    free = np.ones(30, bool)
    free[:8] = False
    problem.free = free
    q0 = np.clip(np.full(30, 0.1), kin.lower, kin.upper)
    res = ProjectedLevenbergMarquardt(obj).solve(q0, problem)
    np.testing.assert_array_equal(res.q[:8], q0[:8])
    assert not np.allclose(res.q[8:], q0[8:])


def test_the_solver_respects_the_dip_pip_couplings_so_the_projection_moves_almost_nothing(setup):
    """Targets from random poses that break the couplings: the solver picks the best pose the hand can
    take; optimising without the couplings and projecting afterwards (what we did before) costs more."""
    kin, obj, guess = setup
    blind = TSVObjective(kin, SolverSettings(coupling_weight=0.0))
    for seed in range(3):
        rng = np.random.default_rng(seed + 20)
        q_true = rng.uniform(kin.lower, kin.upper)
        assert np.abs(obj.coupling_excess(q_true)).max() > 1e-3  # the targets leave a coupling's band
        kp = kin.keypoints(q_true)
        q0 = guess.guess(kp)
        problem = FrameProblem(task_vectors(kp), np.ones(NUM_VECTORS), kp[0], 1.0, q0, np.ones(30, bool))
        aware = ProjectedLevenbergMarquardt(obj).solve(q0, problem).q
        naive = ProjectedLevenbergMarquardt(blind).solve(q0, problem).q
        assert np.abs(obj.coupling_excess(aware)).max() < 1e-5  # tendon metres; the bands are 2 mm wide
        assert np.abs(kin.project(aware) - aware).max() < 1e-3  # radians
        assert np.abs(kin.project(naive) - naive).max() > 0.1
        projected = [obj.evaluate(kin.project(q), problem, False).cost for q in (aware, naive)]
        assert projected[0] < 0.5 * projected[1], projected
