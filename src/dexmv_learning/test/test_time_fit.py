"""Demonstrations fitted to the task's horizon (demos.time_fit): faster within the joint limits,
held still to the horizon, started at the env's reset pose; real MuJoCo replays."""

from __future__ import annotations

import numpy as np
import pytest

TASK = "relocate-tomato_soup_can"
DT = 0.01


def _sine(n: int, amplitude: float, period_s: float) -> np.ndarray:
    t = np.arange(n) * DT
    return np.stack([amplitude * np.sin(2 * np.pi * t / period_s)] * 2, axis=1)


def test_time_factor_is_bounded_by_the_velocity_and_acceleration_limits():
    from dexmv_learning.demos.time_fit import limit_factor, limited_fraction

    q = _sine(400, 0.1, 2.0)  # peak speed 0.314/s, peak acceleration 0.987/s^2
    vmax, amax = np.array([0.8, 0.8]), np.array([100.0, 100.0])
    strict = limit_factor(q, DT, vmax, amax, tolerated=0.0)
    assert strict == pytest.approx(0.8 / (0.1 * 2 * np.pi / 2.0), rel=0.01)  # speed binds
    amax = np.array([2.0, 2.0])
    strict = limit_factor(q, DT, vmax, amax, tolerated=0.0)
    assert strict == pytest.approx(np.sqrt(2.0 / (0.1 * (2 * np.pi / 2.0) ** 2)), rel=0.01)  # acceleration binds
    loose = limit_factor(q, DT, vmax, amax, tolerated=0.05)
    assert loose > strict and limited_fraction(q, DT, loose, vmax, amax) <= 0.05
    assert limited_fraction(q, DT, loose * 1.05, vmax, amax) > 0.05


def test_choose_factor_ends_the_manipulation_by_the_fraction_of_the_horizon_within_the_limits():
    from dexmv_learning.demos.time_fit import choose_factor, scale_time

    n = 401  # 4 s: the object moves 0.2 m over 1-3 s, then rests
    s = np.clip((np.arange(n) * DT - 1.0) / 2.0, 0, 1)
    objects = np.zeros((n, 7))
    objects[:, 0] = 0.2 * (3 * s**2 - 2 * s**3)
    objects[:, 3] = 1.0
    q = np.repeat(objects[:, :1], 2, axis=1)
    fast = (np.array([10.0, 10.0]), np.array([100.0, 100.0]))
    fit = choose_factor(q, objects, DT, 200, 0.75, *fast, tolerated=0.0)
    assert fit.human_end_step > 250 and fit.factor == fit.wanted > 1.0
    assert fit.end_step <= 150
    q2, obj2 = scale_time(q, objects, DT, fit, 200)
    assert q2.shape == (201, 2) and obj2.shape == (201, 7)
    assert np.allclose(q2[fit.end_step:], q2[-1]) and np.allclose(obj2[-1, :3], objects[-1, :3], atol=0.02)
    slow = (np.array([0.15, 0.15]), np.array([100.0, 100.0]))  # peak 0.15 m/s at the human's timing
    capped = choose_factor(q, objects, DT, 200, 0.75, *slow, tolerated=0.0)
    assert capped.factor == pytest.approx(capped.limit) and capped.factor < capped.wanted
    assert capped.end_step > 150  # the limits win over the horizon
    still = choose_factor(q[:120], objects[:120], DT, 200, 0.75, *fast, tolerated=0.0)
    assert still.factor == 1.0  # never slowed down


def test_converted_demo_succeeds_within_the_horizon_from_the_reset_pose():
    """The default 4 s can motion (first success at step ~206 of 396 at the human's timing) becomes
    a 200-step demonstration that starts at the env's reset hand pose and succeeds at its last step."""
    from dexmv_learning.demos.conversion import ConversionConfig, convert
    from dexmv_learning.demos.motion_source import motion_trajectory

    result = convert(motion_trajectory(TASK, 0, seconds=4.0), TASK, ConversionConfig(fit_horizon=200), seed=0)
    demo = result.demonstration
    assert demo is not None, result.dropped
    fit = result.metrics["time_fit"]
    assert 1.0 < fit["factor"] <= fit["limit_factor"] and demo.source["time_fit"]["factor"] == fit["factor"]
    assert len(demo) == 200 and fit["manipulation_end_step"] <= 150
    assert result.metrics["refined"]["first_success_step"] <= 200 and demo.success[-1]
    assert np.allclose(demo.observations[0, :30], 0.0, atol=1e-6)  # the env's default reset pose
    assert np.allclose(demo.source["options"]["hand_qpos"], 0.0)


def test_perception_jitter_does_not_hold_the_motion_at_the_human_speed():
    """Keypoints with perception-like jitter (4 mm, independent per frame) retarget to joints whose
    accelerations exceed the limits in many more values than the motion's: judged on them, the time
    fit keeps the human's slow timing; judged on the smoothed joints (fit_smoothing_hz), the motion's
    own speed-up, close to the clean motion's."""
    from dataclasses import replace

    from dexmv_learning.demos.conversion import ConversionConfig, kinematic_reference
    from dexmv_learning.demos.motion_source import motion_trajectory
    from dexmv_sim.simulation import TaskSimulation

    clean = motion_trajectory(TASK, 0, seconds=4.0)
    noisy = replace(clean, keypoints=clean.keypoints + np.random.default_rng(0).normal(0, 0.004, clean.keypoints.shape))
    limits = TaskSimulation(TASK).model.jnt_range[:30]

    from dexmv_learning.demos.conversion import fit_smoothing_for

    # pour keeps the 5 Hz joints' judgement: its water needs the human's slow tipping
    assert fit_smoothing_for(TASK) == 2.0 and fit_smoothing_for("pour") == 0.0

    def factor(traj, hz: float | None) -> dict:
        metrics: dict = {}
        kinematic_reference(traj, TASK, ConversionConfig(fit_smoothing_hz=hz), limits, metrics)
        return metrics["time_fit"]

    clean_fit, smoothed, raw = factor(clean, None), factor(noisy, None), factor(noisy, 0.0)  # None: 2 Hz
    assert clean_fit["factor"] > 1.2
    assert raw["limit_factor"] < 0.8 * smoothed["limit_factor"]
    assert smoothed["factor"] >= 0.9 * clean_fit["factor"] > raw["factor"]


def test_demos_cli_refuses_a_bad_fit_horizon(capsys):
    import argparse

    from dexmv_learning.cli import demos

    parser = argparse.ArgumentParser()
    demos.add_arguments(parser)
    assert demos.run(parser.parse_args(["--default", "--fit-horizon", "soon"])) == 2
    assert "--fit-horizon" in capsys.readouterr().err


def test_pose_interpolation_keeps_samples_unit_quaternions_and_either_order():
    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.pose_interpolation import interpolate_poses

    t = np.array([0.0, 0.1, 0.2, 0.3])
    xyzw = Rotation.from_euler("z", np.array([0.0, 0.3, 0.9, 1.2])[:, None]).as_quat()
    poses = np.concatenate([np.stack([t, t ** 2, np.zeros(4)], axis=1), xyzw], axis=1)
    t_new = np.linspace(-0.05, 0.35, 41)
    out = interpolate_poses(t, poses, t_new, scalar_first=False)
    np.testing.assert_allclose(np.linalg.norm(out[:, 3:], axis=1), 1.0, atol=1e-12)
    on_samples = interpolate_poses(t, poses, t, scalar_first=False)
    np.testing.assert_allclose(on_samples, poses, atol=1e-12)
    # the orientation is held outside the samples, the yaw is monotonic inside
    yaw = Rotation.from_quat(out[:, 3:]).as_euler("xyz")[:, 2]
    assert yaw[0] == pytest.approx(0.0, abs=1e-12) and yaw[-1] == pytest.approx(1.2)
    assert np.all(np.diff(yaw) >= -1e-12)
    wxyz = np.concatenate([poses[:, :3], np.roll(xyzw, 1, axis=1)], axis=1)
    out_wxyz = interpolate_poses(t, wxyz, t_new, scalar_first=True)
    np.testing.assert_allclose(out_wxyz[:, :3], out[:, :3])
    np.testing.assert_allclose(out_wxyz[:, 3:], np.roll(out[:, 3:], 1, axis=1))
    one = interpolate_poses(t[:1], poses[:1], t_new, scalar_first=False)
    np.testing.assert_allclose(one, np.repeat(poses[:1], len(t_new), axis=0))
