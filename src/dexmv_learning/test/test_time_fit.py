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


def test_two_rates_speed_up_the_part_before_the_slow_one_to_end_in_time():
    """With `slow_from`, the steps from there on play at most as fast as the limits judged on
    `slow_q` allow and the ones before as fast as needed to end by the fraction of the horizon; the
    rate eases from one to the other, so the shown human step is continuous and never goes back."""
    from dexmv_learning.demos.time_fit import choose_factor, scale_time

    n = 401
    objects = np.zeros((n, 7))
    objects[:, 3] = 1.0
    t = np.arange(n) * DT
    q = np.stack([0.1 * np.sin(2 * np.pi * t / 4.0), 0.3 * np.clip((t - 2.0) / 0.5, 0, 1)], axis=1)
    fast = (np.array([10.0, 10.0]), np.array([100.0, 100.0]))
    slow_q = q.copy()
    slow_q[:, 1] *= 20.0  # what the slow part is judged on moves 20 times as far: it may not be sped up
    fit = choose_factor(q, objects, DT, 200, 0.75, *fast, tolerated=0.0, end=260, slow_from=200, slow_q=slow_q)
    assert fit.slow_from == 200 and fit.slow_factor == 1.0 and fit.human_end_step == 260
    assert fit.factor == fit.wanted > 2.0 and fit.end_step == 150
    shown = fit.source_steps()
    assert shown[0] == 0.0 and shown[-1] == pytest.approx(260, abs=1.0) and np.all(np.diff(shown) > 0)
    rate = np.diff(shown)
    assert rate.max() == pytest.approx(fit.factor, rel=1e-3) and rate[-20:-1] == pytest.approx(1.0, abs=1e-6)
    assert np.abs(np.diff(rate)).max() < 0.25  # eased, not a jump of the speed
    q2, _ = scale_time(q, objects, DT, fit, 200)
    assert q2.shape == (201, 2) and np.allclose(q2[fit.end_step:], q2[-1])
    # a slow part the limits let go faster is sped up too, never beyond the first part
    easy = choose_factor(q, objects, DT, 200, 0.75, *fast, tolerated=0.0, end=260, slow_from=200)
    assert 1.0 < easy.slow_factor <= easy.factor
    # no slow part inside the manipulation: one rate, as before
    one = choose_factor(q, objects, DT, 200, 0.75, *fast, tolerated=0.0, end=260, slow_from=260)
    assert one.slow_from is None and one.factor == pytest.approx(260 / 150, abs=1e-4)


def test_a_pour_is_sped_up_before_its_tilt_and_ends_tipped_within_the_horizon():
    """The synthetic pours start tipping the mug about 2.1 s in (after a 200-step episode has ended):
    the reach, grasp and carry are sped up as a relocation's, the tilt at most as the 5 Hz joints
    allow, and the reference ends once the mug is tipped, held there to the horizon, so the water is
    poured by the episode's last step; the hand holds the mug to the end instead of letting it go."""
    from dexmv_learning.demos.conversion import ConversionConfig, joint_rate_limits, kinematic_reference
    from dexmv_learning.demos.motion_source import motion_trajectory
    from dexmv_learning.demos.refine import grasp_phase
    from dexmv_learning.demos.time_fit import POUR_ONSET_RAD, POURING_SHARE, choose_factor, pour_phase, tilt_angles
    from dexmv_sim.simulation import TaskSimulation

    traj = motion_trajectory("pour", 0, seconds=4.0)
    limits = TaskSimulation("pour").model.jnt_range[:30]
    human_q, human_obj = kinematic_reference(traj, "pour", ConversionConfig(fit_horizon=None), limits, {})
    onset, end = pour_phase(human_obj, DT)
    assert 200 < onset < end < 300
    metrics: dict = {}
    q, obj = kinematic_reference(traj, "pour", ConversionConfig(), limits, metrics)
    fit = metrics["time_fit"]
    assert len(q) == 201 and fit["pour_onset_human_step"] == onset and fit["human_manipulation_end_step"] == end
    assert fit["factor"] > 1.5 and 1.0 <= fit["pour_factor"] < fit["factor"]
    assert fit["manipulation_end_step"] <= 150
    tilt, human_tilt = tilt_angles(obj, DT), tilt_angles(human_obj, DT)
    assert POURING_SHARE * human_tilt.max() - np.radians(3) < tilt.max() < human_tilt.max()  # held where tipped
    tipped = np.flatnonzero(tilt >= POURING_SHARE * tilt.max())
    assert tipped[0] <= 150 and tipped[-1] == 200 and tilt[-1] > np.radians(80)
    # the tilt itself (onset to tipped) is played at the pour's rate, not the approach's
    began = np.flatnonzero(tilt[:tipped[0]] < POUR_ONSET_RAD)[-1]
    human_tipped = np.flatnonzero(human_tilt >= POURING_SHARE * human_tilt.max())[0]
    assert (tipped[0] - began) * fit["pour_factor"] == pytest.approx(human_tipped - onset, rel=0.25)
    assert grasp_phase(obj, DT, "pour")[2] == len(obj)
    # one rate judged at 5 Hz (as before): tipped only 13 steps before the episode ends, not 50
    vmax, amax = joint_rate_limits(30, ConversionConfig())
    assert choose_factor(human_q, human_obj, DT, 200, 0.75, vmax, amax, 0.05, end=end).end_step > 180


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

    # pour's tilt keeps the 5 Hz joints' judgement: its water needs the human's slow tipping
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


def test_a_demonstration_is_judged_where_the_learner_s_episode_ends():
    """A pour demonstration 250 steps long that has poured only by step 230 is a failure for a
    200-step episode: success and score are judged at the horizon, the end reported beside them."""
    from dexmv_learning.demos.conversion import demo_metrics
    from dexmv_learning.demos.dataset import Demonstration

    t = 250
    score = np.clip((np.arange(t + 1) - 180) / 50.0, 0.0, 1.0).astype(np.float32)
    demo = Demonstration("pour", observations=np.zeros((t + 1, 43), np.float32), actions=np.zeros((t, 30), np.float32),
                         rewards=np.zeros(t, np.float32), terminations=np.zeros(t, bool),
                         truncations=np.zeros(t, bool), states=np.zeros((t + 1, 4)), success=score >= 0.5, score=score)
    q = np.zeros((t + 1, 30))
    at_horizon = demo_metrics(demo, q, horizon=200)
    assert at_horizon["judged_at_step"] == 200 and not at_horizon["success"]
    assert at_horizon["score"] == pytest.approx(0.4) and at_horizon["score_at_end"] == 1.0
    assert at_horizon["success_at_end"] and at_horizon["first_success_step"] == 205
    at_end = demo_metrics(demo, q)  # no horizon (the human's timing): its own end
    assert at_end["judged_at_step"] == 250 and at_end["success"] and "score_at_end" not in at_end
