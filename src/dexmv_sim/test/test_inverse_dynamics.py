"""Inverse dynamics: replaying the computed actions tracks a smooth joint trajectory.

Tolerance from the physics: an action holds one servo target for a whole 10 ms control step while
the joint moves, so the servo force drifts by kp * v * dt within the step; the resulting position
error stays below the distance the joint travels in one control step, v_max * dt (measured:
0.4-0.6 of it on the slides, 0.4-0.8 on the hinges, for 0.5-1 Hz motion). The RMS must be under
half of that bound, and much better than commanding the trajectory itself as servo targets.
"""

import numpy as np
import pytest

from dexmv_sim.adroit import ADROIT_JOINTS
from dexmv_sim.inverse_dynamics import (
    TrajectoryError,
    compute_actions,
    finite_differences,
    replay,
    tracking_error,
)
from dexmv_sim.scene import CONTROL_DT
from dexmv_sim.simulation import TaskSimulation

J = {name: i for i, name in enumerate(ADROIT_JOINTS)}


def smooth_trajectory(frequency: float, steps: int = 300) -> np.ndarray:
    """Arm, wrist and coordinated finger motion inside the joint ranges, free of self-contact."""
    t = np.arange(steps) * CONTROL_DT

    def wave(rate: float, phase: float, low: float, high: float) -> np.ndarray:
        return low + (high - low) * 0.5 * (1 - np.cos(2 * np.pi * frequency * rate * t + phase))

    q = np.zeros((steps, 30))
    q[:, J["ARTx"]], q[:, J["ARTy"]], q[:, J["ARTz"]] = wave(0.6, 0, -0.08, 0.08), wave(0.5, 1, 0.05, 0.15), \
        wave(0.4, 2, -0.1, 0.05)
    q[:, J["ARRx"]], q[:, J["ARRy"]], q[:, J["ARRz"]] = wave(0.5, 0.5, -0.3, 0.0), wave(0.7, 0.2, -0.2, 0.2), \
        wave(0.6, 1.2, -0.2, 0.2)
    q[:, J["WRJ1"]], q[:, J["WRJ0"]] = wave(1, 0.3, -0.3, 0.1), wave(1, 0.9, -0.4, 0.4)
    for finger in ("FF", "MF", "RF", "LF"):
        for k, joint in enumerate(("J2", "J1", "J0")):
            q[:, J[finger + joint]] = wave(1, 0.2 * k, 0.1, 1.0)
    q[:, J["LFJ4"]] = 0.05
    q[:, J["THJ4"]], q[:, J["THJ3"]], q[:, J["THJ0"]] = wave(1, 0, 0.0, 0.6), wave(1, 0.5, 0.1, 0.8), \
        wave(1, 0.2, -0.6, -0.1)
    return q


@pytest.mark.parametrize("frequency", [0.5, 1.0])
def test_replay_of_inverse_dynamics_actions_tracks_the_trajectory(frequency):
    sim = TaskSimulation("relocate-mug")
    sim.reset(np.random.default_rng(0), {"object_pos": (0.14, 0.14)})  # object out of the hand's way
    start = sim.get_state()
    q = smooth_trajectory(frequency)
    result = compute_actions(sim, q)
    assert result.actions.shape == (300, 30) and np.abs(result.actions).max() <= 1.0
    assert result.clipped == 0.0
    v, _ = finite_differences(q)
    achieved = replay(sim, result.actions, q[0], v[0])
    error = tracking_error(q, achieved)
    travel_m = np.abs(v[:, :3]).max() * CONTROL_DT
    travel_rad = np.abs(v[:, 3:]).max() * CONTROL_DT
    assert error["max_m"] < travel_m and error["rms_m"] < 0.5 * travel_m, error
    assert error["max_rad"] < travel_rad and error["rms_rad"] < 0.5 * travel_rad, error
    # the trajectory itself as servo targets lags far behind: inverse dynamics is doing the work
    sim.set_state(start)
    naive = tracking_error(q, replay(sim, sim.actions.to_actions(q), q[0], v[0]))
    assert naive["rms_rad"] > 5 * error["rms_rad"] and naive["rms_m"] > 5 * error["rms_m"]


def test_bad_trajectories_are_rejected():
    sim = TaskSimulation("relocate-mug")
    sim.reset(np.random.default_rng(0))
    with pytest.raises(TrajectoryError, match=r"\(T, 30\)"):
        compute_actions(sim, np.zeros((10, 24)))
    with pytest.raises(TrajectoryError, match="at least 3"):
        compute_actions(sim, np.zeros((2, 30)))
    bad = np.zeros((5, 30))
    bad[2, 3] = np.nan
    with pytest.raises(TrajectoryError, match="NaN"):
        compute_actions(sim, bad)
