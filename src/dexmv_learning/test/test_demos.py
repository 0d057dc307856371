"""Human trajectory -> robot demonstration -> Minari dataset, and back; real MuJoCo physics."""

from __future__ import annotations

import numpy as np
import pytest

TASK = "relocate-tomato_soup_can"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from dexmv_learning.demos.conversion import ConversionConfig, convert
    from dexmv_learning.demos.dataset import write_demonstrations
    from dexmv_learning.demos.motion_source import motion_trajectory

    traj = motion_trajectory(TASK, 0, seconds=2.0)
    result = convert(traj, TASK, ConversionConfig(refine="none"), seed=3)
    assert result.demonstration is not None, result.dropped
    out = tmp_path_factory.mktemp("demos") / TASK
    write_demonstrations(out, TASK, [result.demonstration], summary=result.metrics)
    return traj, result, out


def test_free_motion_replay_tracks_the_retargeted_joints(converted):
    _, result, _ = converted
    demo = result.demonstration
    ref = demo.reference_qpos
    achieved = demo.observations[:, :30].astype(np.float64)
    palm_to_object = np.linalg.norm(demo.observations[:, 30:33], axis=1)
    free = np.arange(len(ref)) < np.flatnonzero(palm_to_object < 0.12)[0]  # before the hand nears the can
    assert free.sum() > 30
    from dexmv_sim.simulation import TaskSimulation

    limits = TaskSimulation(TASK).model.jnt_range[:30]
    # joints pressed against a limit (open fingers sit at 0) feel limit forces inverse dynamics leaves out
    inside = (ref > limits[:, 0] + 0.03) & (ref < limits[:, 1] - 0.03)
    travel = np.abs(np.diff(ref, axis=0)).max(axis=0)  # the most a joint moves in one 10 ms step
    err = np.where(inside[free], np.abs(achieved[free] - ref[free]), 0.0).max(axis=0)
    # dexmv_sim's tolerance for smooth trajectories is one step's travel; the acceleration limits
    # leave kinks in ours (a step's travel changes abruptly), so half a step more
    # arm and wrist (8 joints): fingers sit at or near their limits and touch each other, so ID
    # (which leaves limit and hand self-contact forces out) does not bound them this tightly
    arm = slice(0, 8)
    assert np.all(err[arm] <= 1.5 * travel[arm] + 1e-3), (err - 1.5 * travel).round(4)
    assert np.sqrt(np.mean((achieved[free] - ref[free]) ** 2)) < 0.02


def test_dataset_loads_with_minari_spaces_lengths_and_resettable_states(converted):
    import gymnasium as gym

    import dexmv_sim  # noqa: F401
    from dexmv_learning.demos.dataset import load_demonstrations, open_minari

    out = converted[2]
    dataset = open_minari(out)
    env = dataset.recover_environment()
    reference = gym.make("dexmv/Relocate-tomato_soup_can-v0")
    assert dataset.observation_space == reference.observation_space
    assert dataset.action_space == reference.action_space
    episode = next(dataset.iterate_episodes())
    t = len(episode.actions)
    assert episode.observations.shape == (t + 1, 39) and episode.rewards.shape == (t,)
    assert episode.infos["state"].shape[0] == t + 1 and episode.truncations[-1]
    demo = load_demonstrations(out)[0]
    assert demo.actions.dtype == np.float32 and np.abs(demo.actions).max() <= 1.0
    for step in (0, t // 2, t):
        obs, _ = env.reset(options={"state": demo.states[step]})
        np.testing.assert_allclose(obs, episode.observations[step], atol=1e-9)
    # stepping from a stored state with the stored action reproduces the next stored observation
    env.reset(options={"state": demo.states[5]})
    obs, *_ = env.step(episode.actions[5])
    np.testing.assert_allclose(obs, episode.observations[6], atol=1e-6)
    # the whole episode is what its stored (float32) actions do, to the bit: the demonstration was
    # stepped with them (pour's particles turned a 1e-8 rounding into a different pour)
    env.reset(options={"state": demo.states[0]})
    for action in episode.actions:
        env.step(action)
    assert np.array_equal(env.unwrapped.sim.get_state(), demo.states[-1])


def test_state_only_export_has_no_actions(converted, tmp_path):
    from dexmv_learning.demos.dataset import load_demonstrations, write_demonstrations

    _, result, _ = converted
    write_demonstrations(tmp_path / "soil", TASK, [result.demonstration], state_only=True)
    demo = load_demonstrations(tmp_path / "soil")[0]
    assert demo.state_only and demo.actions is None and len(demo.observations) == len(demo) + 1


def _with_gap(traj, start: int, frames: int):
    from dataclasses import replace

    kp = traj.keypoints.copy()
    conf = traj.confidence.copy()
    kp[start:start + frames] = np.nan
    conf[start:start + frames] = 0.0
    return replace(traj, keypoints=kp, confidence=conf)


def test_short_gaps_are_interpolated_long_gaps_drop_the_demo_with_the_reason(converted):
    from dexmv_learning.demos.gaps import repair_gaps

    traj = converted[0]
    oid = "005_tomato_soup_can"
    fixed, report = repair_gaps(_with_gap(traj, 20, 4), [oid], max_gap_s=0.3)  # 0.13 s
    assert report.reason == "" and report.filled_hand_frames == 4
    assert np.all(np.isfinite(fixed.keypoints))
    assert np.abs(fixed.keypoints[20:24] - traj.keypoints[20:24]).max() < 0.02  # linear fill of smooth motion
    # across the start of the lift (the can moves, and the hand does not hold it yet where the gap
    # starts; holding it at both ends, the gap would be carried: the next test)
    _, report = repair_gaps(_with_gap(traj, 10, 15), [oid], max_gap_s=0.3)  # 0.53 s
    assert "hand missing for 0.53 s" in report.reason and "--max-gap" in report.reason
    assert "does not hold the object" in report.reason
    assert traj.fps == 30
    # exactly --max-gap (8 frames missing: 9 intervals of 1/30 s, 0.30000000000000004 in floats) is
    # filled; it dropped 2 of 15 perceived demos; one frame more is not (with --max-held-gap as
    # short: else the reach's gap is an approach, below)
    _, report = repair_gaps(_with_gap(traj, 5, 8), [oid], max_gap_s=0.3, max_held_gap_s=0.3)
    assert report.reason == "" and report.filled_hand_frames == 8, report.reason
    _, report = repair_gaps(_with_gap(traj, 5, 9), [oid], max_gap_s=0.3, max_held_gap_s=0.3)
    assert "hand missing for 0.33 s" in report.reason and "below confidence 0.3" in report.reason
    # at the end: the reason says which part is missing (it said "hand or object")
    moving = _moved_can(_with_gap(traj, len(traj.stamps) - 15, 15), slice(len(traj.stamps) - 10, None))
    _, report = repair_gaps(moving, [oid], max_gap_s=0.3)
    assert report.reason.startswith("hand missing for the last 0.50 s (wrist or a knuckle"), report.reason

    from dexmv_learning.demos.conversion import ConversionConfig, convert

    dropped = convert(_with_gap(traj, 10, 15), TASK, ConversionConfig(refine="none"))
    assert dropped.demonstration is None and "hand missing" in dropped.dropped


def _moved_can(traj, frames: slice, dx: float = 0.05):
    """`traj` with the (only) object's position moved `dx` along x in `frames`."""
    from dataclasses import replace

    poses = traj.object_poses.copy()
    poses[frames, 0, 0] += dx
    return replace(traj, object_poses=poses)


def test_the_hand_out_of_view_at_the_start_or_end_while_nothing_moves_is_cut_off(converted):
    """A real recording starts before the hand comes into view and ends after it leaves: where only
    the hand is missing and the object stands still, the stretch is cut off however long; the object
    moving there (someone else's hand, or perception's can sliding) still drops it."""
    from dataclasses import replace

    from dexmv_learning.demos.gaps import repair_gaps

    traj = converted[0]
    oid = "005_tomato_soup_can"
    n = len(traj.stamps)
    assert np.ptp(traj.object_poses[:20, 0, :3], axis=0).max() < 1e-6  # resting to frame 19
    still_end = traj.object_poses.copy()
    still_end[n - 20:] = still_end[n - 20]  # the motion ends holding the can up: here it stays put
    traj = replace(traj, object_poses=still_end)
    both = _with_gap(_with_gap(traj, 0, 18), n - 18, 18)  # 0.6 s missing at either end
    fixed, report = repair_gaps(both, [oid], max_gap_s=0.3)
    assert report.reason == "" and report.trimmed_frames == 36, report.reason
    assert abs(report.idle_trimmed_s - 2 * 18 / 30) < 1e-6
    assert len(fixed.stamps) == n - 36 and np.all(np.isfinite(fixed.keypoints))
    _, report = repair_gaps(_moved_can(both, slice(0, 8)), [oid], max_gap_s=0.3)
    assert report.reason.startswith("hand missing for the first 0.60 s"), report.reason


def test_the_hand_hidden_while_the_object_stands_still_is_an_approach_interpolated(converted):
    """A hand hidden by the object it reaches for moved nothing: its gap is interpolated up to
    --max-held-gap (the reach's shape is lost, which a robot grasp plans anew), also when
    perception's pose of the can turns about the can's axis meanwhile (the same shape)."""
    from dataclasses import replace

    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.gaps import PALM, repair_gaps

    traj = converted[0]
    oid = "005_tomato_soup_can"
    assert np.ptp(traj.object_poses[:20, 0, :3], axis=0).max() < 1e-6  # resting to frame 19
    fixed, report = repair_gaps(_with_gap(traj, 3, 15), [oid], max_gap_s=0.3)  # 0.5 s of the reach
    assert report.reason == "" and report.approach_frames == 15 and report.filled_hand_frames == 15
    assert np.all(np.isfinite(fixed.keypoints)) and np.all(fixed.confidence[3:18] >= 0.3)
    # straight lines, not the reach's arc: this 2 s motion's fast reach bends them 8 cm off at the palm
    off = np.linalg.norm(fixed.keypoints[3:18, PALM] - traj.keypoints[3:18, PALM], axis=-1).max()
    assert 0.01 < off < 0.1
    # longer than --max-held-gap: dropped
    _, report = repair_gaps(_with_gap(traj, 3, 15), [oid], max_gap_s=0.3, max_held_gap_s=0.4)
    assert report.approach_frames == 0 and "more than --max-held-gap 0.4 s" in report.reason

    def turned(rotvec, frames=slice(8, 12)):
        poses = traj.object_poses.copy()
        quats = Rotation.from_quat(poses[frames, 0, 3:]) * Rotation.from_rotvec(rotvec)
        poses[frames, 0, 3:] = quats.as_quat()
        return replace(_with_gap(traj, 3, 15), object_poses=poses)

    _, report = repair_gaps(turned([0.0, 0.0, 1.5]), [oid], max_gap_s=0.3)  # about its axis: still
    assert report.reason == "" and report.approach_frames == 15
    _, report = repair_gaps(turned([0.5, 0.0, 0.0]), [oid], max_gap_s=0.3)  # tipped: it moved
    assert report.approach_frames == 0 and "hand missing for 0.53 s" in report.reason


def _without(traj, hand: slice | None = None, obj: slice | None = None):
    from dataclasses import replace

    kp, conf = traj.keypoints.copy(), traj.confidence.copy()
    poses, oconf = traj.object_poses.copy(), traj.object_confidence.copy()
    if hand is not None:
        kp[hand], conf[hand] = np.nan, 0.0
    if obj is not None:
        poses[obj], oconf[obj] = np.nan, 0.0
    return replace(traj, keypoints=kp, confidence=conf, object_poses=poses, object_confidence=oconf)


def test_gaps_while_the_hand_holds_the_object_are_carried_with_it():
    """The can's 2 s motion: resting to frame 19, held from 20 (lifted 5 -> 17 cm by frame 32)."""
    from dexmv_learning.demos.gaps import repair_gaps
    from dexmv_learning.demos.motion_source import motion_trajectory

    traj = motion_trajectory(TASK, 0, seconds=2.0)
    oid = "005_tomato_soup_can"
    assert traj.object_poses[19, 0, 2] < 0.051 < 0.17 < traj.object_poses[32, 0, 2]
    # the hand lost for 0.6 s of the lift and carry: carried with the can, where the truth is
    fixed, report = repair_gaps(_without(traj, hand=slice(22, 40)), [oid], max_gap_s=0.3)
    assert report.reason == "" and report.carried_frames == 18 and report.filled_hand_frames == 0
    from dexmv_learning.demos.gaps import PALM

    assert np.abs(fixed.keypoints[:, PALM] - traj.keypoints[:, PALM]).max() < 1e-3
    assert np.abs(fixed.keypoints - traj.keypoints).max() < 5e-3  # the fingers still close on the can
    assert np.all(fixed.confidence[22:40] >= 0.3)
    # straight lines between the ends (what a longer --max-gap would do) miss the lift's curve
    straight, report = repair_gaps(_without(traj, hand=slice(22, 40)), [oid], max_gap_s=0.7)
    assert report.carried_frames == 0 and np.abs(straight.keypoints - traj.keypoints).max() > 0.01
    # the gap's end in a short gap of the can (perceived: seeds 0-4 of the mug): bridged, carried
    fixed, report = repair_gaps(_without(traj, hand=slice(22, 40), obj=slice(40, 43)), [oid], max_gap_s=0.3)
    assert report.reason == "" and report.carried_frames == 18 and report.filled_object_frames == 3
    assert np.abs(fixed.keypoints[:, PALM] - traj.keypoints[:, PALM]).max() < 2e-3
    # the can lost instead: carried with the palm
    fixed, report = repair_gaps(_without(traj, obj=slice(22, 40)), [oid], max_gap_s=0.3)
    assert report.reason == "" and report.carried_frames == 18
    assert np.abs(fixed.object_poses[:, 0, :3] - traj.object_poses[:, 0, :3]).max() < 1e-3
    turn = np.abs(np.sum(fixed.object_poses[22:40, 0, 3:] * traj.object_poses[22:40, 0, 3:], axis=1))
    assert turn.min() > np.cos(np.radians(0.5) / 2)
    # the can hidden while the hand reaches for it and it stands still: the same pose throughout
    fixed, report = repair_gaps(_without(traj, obj=slice(2, 17)), [oid], max_gap_s=0.3)
    assert report.reason == "" and report.still_frames == 15 and report.carried_frames == 0
    assert np.abs(fixed.object_poses[:, 0, :3] - traj.object_poses[:, 0, :3]).max() < 1e-6
    # the can in a recording's second column (another object tracked too): the same, from its column
    from dataclasses import replace

    def second_column(hidden):
        return replace(hidden, object_ids=["025_mug", oid],
                       object_poses=np.concatenate([traj.object_poses, hidden.object_poses], axis=1),
                       object_confidence=np.concatenate([traj.object_confidence, hidden.object_confidence], axis=1))

    fixed, report = repair_gaps(second_column(_without(traj, obj=slice(22, 40))), [oid], max_gap_s=0.3)
    assert report.reason == "" and report.carried_frames == 18
    assert np.abs(fixed.object_poses[:, 1, :3] - traj.object_poses[:, 0, :3]).max() < 1e-3
    fixed, report = repair_gaps(second_column(_without(traj, obj=slice(2, 17))), [oid], max_gap_s=0.3)
    assert report.reason == "" and report.still_frames == 15


def test_a_held_mug_whose_perceived_turn_about_its_axis_jumps_is_carried_by_its_axis():
    """Perception follows a held mug's axis but not its turn about it (the handle is in the fingers;
    perceived pours: jumps of up to 180 degrees in the tilt), so a gap in the pour's tilt is carried
    when the hand is at the same height on the mug and distance from its axis at both ends, and a
    lost hand follows the axis, not the perceived turn. The pour's 4 s motion: tilted 17 -> 105
    degrees over frames 60-69, the palm 7 cm from the mug's origin."""
    from dataclasses import replace

    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.gaps import PALM, repair_gaps
    from dexmv_learning.demos.motion_source import motion_trajectory

    traj = motion_trajectory("pour", 0, seconds=4.0)
    oid = "025_mug"
    axes = Rotation.from_quat(traj.object_poses[:, 0, 3:]).as_matrix()[:, :, 2]
    assert axes[58, 2] > np.cos(np.radians(5)) and axes[70, 2] < np.cos(np.radians(100))

    def spun(t, frames: slice, angle: float):  # perception's turn about the mug's own axis
        poses = t.object_poses.copy()
        poses[frames, 0, 3:] = (Rotation.from_quat(poses[frames, 0, 3:])
                                * Rotation.from_rotvec([0.0, 0.0, angle])).as_quat()
        return replace(t, object_poses=poses)

    # the mug lost through the tilt, perceived turned 100 degrees about its axis after it
    fixed, report = repair_gaps(spun(_without(traj, obj=slice(60, 72)), slice(72, None), np.radians(100)), [oid],
                                max_gap_s=0.3)
    assert report.reason == "" and report.carried_frames == 12, report.reason
    assert np.abs(fixed.object_poses[60:72, 0, :3] - traj.object_poses[60:72, 0, :3]).max() < 1e-3
    carried_axes = Rotation.from_quat(fixed.object_poses[60:72, 0, 3:]).as_matrix()[:, :, 2]
    assert np.einsum("ij,ij->i", carried_axes, axes[60:72]).min() > np.cos(np.radians(2))
    # the hand lost through the tilt while the perceived turn jumps: carried by the axis, at the truth
    fixed, report = repair_gaps(spun(_without(traj, hand=slice(60, 72)), slice(66, None), np.radians(100)), [oid],
                                max_gap_s=0.3)
    assert report.reason == "" and report.carried_frames == 12, report.reason
    off = np.linalg.norm(fixed.keypoints[60:72, PALM] - traj.keypoints[60:72, PALM], axis=-1).max()
    assert off < 0.01, off
    # a hand that took the mug 6 cm lower after the gap (a different hold) is still not carried
    lower = traj.keypoints.copy()
    lower[72:] -= 0.06 * axes[72:, None, :]
    _, report = repair_gaps(replace(_without(traj, obj=slice(60, 72)), keypoints=lower), [oid], max_gap_s=0.3)
    assert "does not hold the object" in report.reason, report.reason


def test_a_symmetric_object_perceived_upside_down_is_turned_upright_throughout():
    """Perception gives a lying clamp upside down as often as not (same shape); the conversion turns
    the whole track by the clamp's own half turn, so its model frame is the simulation's again."""
    from dataclasses import replace

    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.motion_source import motion_trajectory
    from dexmv_learning.demos.symmetric_objects import upright_frames

    traj = motion_trajectory("relocate-large_clamp", 0, seconds=2.0)
    oid = "051_large_clamp"
    k = traj.object_index(oid)
    half_turn_y = Rotation.from_rotvec([0.0, np.pi, 0.0])
    poses = traj.object_poses.copy()
    poses[:, k, 3:] = (Rotation.from_quat(poses[:, k, 3:]) * half_turn_y).as_quat()
    poses[:3, k] = np.nan  # not perceived at first
    flipped = replace(traj, object_poses=poses)
    fixed, turned = upright_frames(flipped, oid)
    assert turned
    truth, got = Rotation.from_quat(traj.object_poses[3:, k, 3:]), Rotation.from_quat(fixed.object_poses[3:, k, 3:])
    assert (truth.inv() * got).magnitude().max() < 1e-9
    assert np.isnan(fixed.object_poses[:3, k]).all()
    np.testing.assert_array_equal(fixed.object_poses[:, k, :3], poses[:, k, :3])
    same, turned = upright_frames(traj, oid)  # already upright
    assert not turned and same is traj


def test_gaps_that_cannot_be_carried_drop_the_demo_saying_why():
    from dexmv_learning.demos.gaps import repair_gaps
    from dexmv_learning.demos.motion_source import motion_trajectory

    traj = motion_trajectory(TASK, 0, seconds=2.0)
    oid = "005_tomato_soup_can"
    # the hand lost from the reach until the can has begun to rise: it did not hold the can where the
    # gap starts and the can moved, so nothing says how the hand took it
    _, report = repair_gaps(_without(traj, hand=slice(5, 20)), [oid], max_gap_s=0.3)
    assert report.reason.startswith("hand missing for 0.53 s") and "does not hold the object" in report.reason
    # both lost at once
    _, report = repair_gaps(_without(traj, hand=slice(22, 40), obj=slice(30, 45)), [oid], max_gap_s=0.3)
    assert "the hand and the object both missing" in report.reason, report.reason
    # held, but longer than --max-held-gap
    _, report = repair_gaps(_without(traj, hand=slice(22, 40)), [oid], max_gap_s=0.3, max_held_gap_s=0.5)
    assert "more than --max-held-gap 0.5 s" in report.reason, report.reason
    # the can moved while hidden and the hand not holding it at both ends (let go in between)
    moved = _without(traj, obj=slice(22, 40))
    moved.object_poses[40:, 0, :3] += [0.06, 0.0, 0.0]
    _, report = repair_gaps(moved, [oid], max_gap_s=0.3)
    assert "does not hold the object at both ends" in report.reason, report.reason


def test_demos_cli_refuses_a_held_gap_limit_under_the_gap_limit(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "dexmv_bringup.cli.main", "demos", "--task", TASK, "--from",
                          str(tmp_path), "--max-gap", "0.5", "--max-held-gap", "0.4"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "--max-held-gap (0.4) must be at least --max-gap (0.5)" in out.stderr, out.stderr


def test_implausible_input_is_refused(tmp_path):
    from dexmv_learning.demos.trajectory import TrajectoryInputError, load_trajectory

    path = tmp_path / "poses.npz"
    np.savez(path, keypoints=np.full((5, 21, 3), 100.0), stamps=np.arange(5) / 30.0, frame="world")
    with pytest.raises(TrajectoryInputError, match="m from the world origin"):
        load_trajectory(path)
    np.savez(path, keypoints=np.zeros((5, 21, 3)), stamps=np.arange(5) / 30.0, frame="hand_relative")
    with pytest.raises(TrajectoryInputError, match="hand_relative"):
        load_trajectory(path)


def test_scripted_rollouts_for_learning_tests():
    from dexmv_learning.demos.synthetic import rollout_demonstrations

    demos = rollout_demonstrations("relocate-large_clamp", 1, 0, max_steps=60)
    assert len(demos[0]) == 60 and demos[0].observations.shape == (61, 39)
    demos[0].check()


def test_demos_cli_converts_a_bag_and_a_poses_file_into_one_dataset(converted, tmp_path, capsys):
    import argparse
    import json

    from dexmv_learning.cli import demos as demos_cli
    from dexmv_learning.demos.dataset import load_demonstrations
    from dexmv_learning.recording.bag_writer import write_trajectory_bag

    traj = converted[0]
    bag = write_trajectory_bag(tmp_path / "human.bag", traj)
    poses = tmp_path / "poses.npz"
    np.savez(poses, keypoints=traj.keypoints, confidence=traj.confidence, stamps=traj.stamps, frame="world",
             object_ids=np.array(traj.object_ids), object_poses=traj.object_poses,
             object_confidence=traj.object_confidence)
    out = tmp_path / "ds"
    args = argparse.Namespace(task=TASK, sources=[str(bag), str(poses)], out=str(out), default=False, tasks=None,
                              per_task=1, seconds=2.0, refine="none", max_gap=0.3, state_only=False, seed=3,
                              force=False, json=True)
    assert demos_cli.run(args) == 0
    summary = json.loads(capsys.readouterr().out)[0]
    assert summary["kept"] == 2 and summary["sources"] == ["bag", "perception"]
    demos = load_demonstrations(out)
    assert len(demos) == 2
    # the bag and the poses file hold the same trajectory: the same demonstration, up to float32 in the bag
    np.testing.assert_allclose(demos[0].reference_qpos, demos[1].reference_qpos, atol=2e-3)
    assert "warning" not in capsys.readouterr().err  # neither source names another task
    # a source whose metadata names another task (a pour recording given as a relocation) converts, with a
    # warning naming the file and both tasks
    poured = tmp_path / "pour_poses.npz"
    np.savez(poured, keypoints=traj.keypoints, confidence=traj.confidence, stamps=traj.stamps, frame="world",
             object_ids=np.array(traj.object_ids), object_poses=traj.object_poses,
             object_confidence=traj.object_confidence, meta_json=json.dumps({"task": "pour", "seed": 0}))
    args.sources, args.out, args.force = [str(poured)], str(tmp_path / "ds2"), True
    assert demos_cli.run(args) == 0
    assert (f"dexmv demos: warning: {poured} was recorded as 'pour' (its metadata), converting it as '{TASK}'"
            in capsys.readouterr().err)
    args.sources = [str(tmp_path / "missing.npz")]
    assert demos_cli.run(args) == 2
    assert "missing.npz: no such file" in capsys.readouterr().err


def _noisy(traj, seed: int):
    """The trajectory as a depth camera might give it: keypoints jittered by 4 mm, object positions
    by 3 mm (independent per frame), so the refinement is not checked on perfect data only."""
    from dataclasses import replace

    rng = np.random.default_rng(seed)
    poses = traj.object_poses.copy()
    poses[..., :3] += rng.normal(0.0, 0.003, poses[..., :3].shape)
    return replace(traj, keypoints=traj.keypoints + rng.normal(0.0, 0.004, traj.keypoints.shape), object_poses=poses,
                   source="ground_truth + noise")


def test_refined_replay_of_a_noisy_synthetic_demo_holds_and_relocates_the_object():
    """Without refinement the kinematic demonstration does not relocate the can; with it the
    physical replay lifts it and ends within the task's 0.1 m of the hindsight target, and the
    summary says how (which grasp, how far the palm went from the human's path)."""
    from dexmv_learning.demos.conversion import ConversionConfig, convert
    from dexmv_learning.demos.motion_source import motion_trajectory

    traj = _noisy(motion_trajectory(TASK, 101, seconds=4.0), 0)
    result = convert(traj, TASK, ConversionConfig(refine="contact"), seed=101)
    assert result.demonstration is not None, result.dropped
    kinematic, refined = result.metrics["kinematic"], result.metrics["refined"]
    assert not kinematic["success"]
    assert refined["success"], refined
    demo = result.demonstration
    assert demo.success[-1] and demo.source["refined"]  # the env's own success: within 0.1 m, lifted
    assert np.linalg.norm(demo.observations[-1, 36:39]) < 0.1  # object-target, as the env observes it
    assert refined["grasp"] in ("human", "robot") and 0 < refined["palm_deviation_rms_mm"] < 150


def test_the_robot_grasp_holds_the_thin_sugar_box_a_side_grasp_the_arm_cannot_take():
    """The human grasps the 38 mm thin box from the side; the arm cannot, so the robot grasps it from
    above where and when the human did. Closed at the grasp point itself the box slid out of the
    hand (0 of 5 seeds); nearer the arm, where the scripted solver closes, it holds."""
    from dexmv_learning.demos.conversion import ConversionConfig, convert
    from dexmv_learning.demos.motion_source import motion_trajectory

    task = "relocate-sugar_box"
    result = convert(motion_trajectory(task, 100, seconds=4.0), task, ConversionConfig(), seed=100)
    assert result.demonstration is not None, result.dropped
    refined = result.metrics["refined"]
    assert refined["grasp"] == "robot" and refined["success"], refined
    assert result.demonstration.success[-1]


def test_default_set_goes_through_perception_and_says_so(tmp_path, capsys, monkeypatch):
    """`dexmv demos --default` renders the synthetic recording, runs perception on it and converts
    the perceived poses (close to the ground truth where perception holds; a track perception
    lost is dropped with the reason, naming the poses file); a second run reuses the perceived
    poses; --ground-truth is the explicit other path. A 1 s clip keeps it to a minute or two."""
    import argparse
    import json

    from dexmv_capture.synthetic.synthesize import load_ground_truth
    from dexmv_learning.cli import demos as demos_cli
    from dexmv_learning.demos.trajectory import read_poses_npz

    monkeypatch.setenv("DEXMV_DEMOS_DIR", str(tmp_path / "demos"))
    args = argparse.Namespace(task=None, sources=None, out=None, default=True, tasks=[TASK], per_task=1, seconds=1.0,
                              refine="none", max_gap=0.3, state_only=False, seed=0, force=False, json=True,
                              ground_truth=False, recordings=str(tmp_path / "recordings"))
    rc = demos_cli.run(args)
    out, err = capsys.readouterr()
    folder = tmp_path / "recordings" / f"{TASK}-seed0-1s"
    poses = folder / "poses.npz"
    perceived = read_poses_npz(poses)
    truth, _ = load_ground_truth(folder / "ground_truth.npz")
    wrist_error = np.linalg.norm(perceived.keypoints[:, 0] - truth["keypoints_world"][:, 0], axis=1)
    assert np.nanmedian(wrist_error) < 0.03  # perception, not a copy of the ground truth, but close to it
    assert np.nanmax(wrist_error) > 0.0
    assert perceived.object_ids == ["005_tomato_soup_can"] and perceived.source == "perception"
    if rc == 0:
        assert json.loads(out)[0]["sources"] == ["perception"]
    else:  # perception lost the object or the hand: dropped with the reason, not converted silently
        assert rc == 2 and f"dropped {poses}" in err and "no demonstration kept" in err, err
    stamp = poses.stat().st_mtime_ns
    assert demos_cli.run(args) == rc  # reuses the perceived poses
    assert poses.stat().st_mtime_ns == stamp
    capsys.readouterr()
    args.ground_truth = True
    assert demos_cli.run(args) == 0
    assert json.loads(capsys.readouterr().out)[0]["sources"] == ["ground_truth (synthetic motion)"]
    assert (tmp_path / "demos" / TASK / "summary.json").is_file()
    args.out = str(tmp_path / "elsewhere")  # --out with --default: one dataset per task under it (was ignored)
    assert demos_cli.run(args) == 0
    assert (tmp_path / "elsewhere" / TASK / "summary.json").is_file()


def test_object_poses_that_jump_off_the_track_and_back_are_gaps_and_no_lift():
    """A perceived can resting for 1 s at 15 fps, then lifted at 0.3 m/s; two frames while the hand
    approaches fit to the arm 0.3 m up (runs of the demo here had such fits, at confidence 0.3-0.6).
    They are rejected and filled from their neighbours; the lift onset is the real one, not the
    jump. A fast real motion that does not come back is kept."""
    from dexmv_learning.demos.gaps import track_outliers
    from dexmv_learning.demos.refine import grasp_phase

    fps = 15.0
    stamps = np.arange(30) / fps
    pos = np.tile([0.0, 0.0, 0.05], (30, 1))
    pos[15:, 2] += 0.3 * (stamps[15:] - stamps[15])
    jumped = pos.copy()
    jumped[5:7] += [0.1, 0.0, 0.3]
    good = np.ones(30, dtype=bool)
    good[6] = False  # one of them is also a gap: the neighbours are found across it
    out = track_outliers(jumped, good, stamps)
    assert np.flatnonzero(out).tolist() == [5]
    out = track_outliers(jumped, np.ones(30, dtype=bool), stamps)
    assert np.flatnonzero(out).tolist() == [5, 6]
    step = pos.copy()
    step[20:] += [0.3, 0.0, 0.0]  # a jump that does not come back is not an outlier (too fast or not)
    assert not track_outliers(step, np.ones(30, dtype=bool), stamps).any()
    too_long = pos.copy()
    too_long[5:12] += [0.0, 0.0, 0.3]  # 0.47 s off the track: longer than a gap may be, left for the checks
    assert not track_outliers(too_long, np.ones(30, dtype=bool), stamps, max_run_s=0.3).any()

    dt = 0.01
    t = np.arange(0, 2.0, dt)
    z = np.interp(t, stamps, jumped[:, 2])
    objects = np.zeros((len(t), 7))
    objects[:, 2] = z
    _, lift, _ = grasp_phase(objects, dt, TASK)
    assert abs(t[lift] - stamps[15]) < 0.1, t[lift]  # not at the spike near 0.33-0.4 s
    assert grasp_phase(objects[:60], dt, TASK) is None  # the spike alone is no lift


def test_an_object_track_that_cannot_be_the_moved_object_drops_the_demo(converted):
    """A registration locked onto something else (here: the can's track 0.3 m off, as seen from a
    real perception run) passes the NaN and confidence checks; the demo is dropped with the reason."""
    from dataclasses import replace

    from dexmv_learning.demos.conversion import ConversionConfig, convert

    traj = converted[0]
    poses = traj.object_poses.copy()
    poses[..., 2] += 0.3
    result = convert(replace(traj, object_poses=poses), TASK, ConversionConfig(refine="none"))
    assert result.demonstration is None and "not resting" in result.dropped
    poses = traj.object_poses.copy()
    poses[..., 0] += 0.35  # resting, but nowhere near the hand when it rises
    result = convert(replace(traj, object_poses=poses), TASK, ConversionConfig(refine="none"))
    assert result.demonstration is None and "when it starts to rise" in result.dropped, result.dropped


def test_bench_demos_reports_kept_dropped_with_reasons_and_replay(tmp_path, capsys):
    """One ground-truth demonstration through the benchmark: its JSON names what was kept and why
    anything was dropped, beside replay success with and without refinement."""
    import argparse
    import json

    from dexmv_learning.cli import bench_demos

    parser = argparse.ArgumentParser()
    bench_demos.add_arguments(parser)
    report = tmp_path / "demos.json"
    assert bench_demos.run(parser.parse_args(["--tasks", "relocate-tomato_soup_can", "--per-task", "1",
                                              "--json", "--report", str(report)])) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(report.read_text())
    (row,) = printed["tasks"]
    assert row["task"] == "relocate-tomato_soup_can" and row["kept"] + row["dropped"] == 1
    assert len(row["dropped_reasons"]) == row["dropped"]
    assert len(row["per_demo_success"]) == row["kept"]
    assert 0.0 <= row["refined_replay_success"] <= 1.0


def test_the_candidate_search_ends_at_a_full_score_not_at_a_half_poured_success():
    """Pour's success is a bar at half the water: a candidate pouring 6 of 12 particles succeeds but
    does not end the search; all 12 does. Relocate scores exactly 1.0 on success and 0.0 otherwise,
    so for it ending at a full score is ending at success."""
    import mujoco

    from dexmv_learning.demos.refine import done
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks.pour import SUCCESS_SCORE

    assert SUCCESS_SCORE == 0.5 and not done(6 / 12) and not done(11 / 12) and done(12 / 12)
    sim = TaskSimulation("relocate-tomato_soup_can")
    sim.reset(np.random.default_rng(0), {"target": [0.0, -0.1, 0.25]})
    out = sim.task.outputs()
    assert not out.success and out.score == 0.0 and not done(out.score)
    joint = sim.model.body("005_tomato_soup_can").jntadr[0]
    adr = sim.model.jnt_qposadr[joint]
    sim.data.qpos[adr:adr + 3] = [0.0, -0.1, 0.25]  # held up at the target
    mujoco.mj_forward(sim.model, sim.data)
    out = sim.task.outputs()
    assert out.success and out.score == 1.0 and done(out.score)


def test_the_pour_grasp_is_rolled_against_the_perceived_tilt_and_the_turn_capped():
    """A mug tilted 100 degrees about -y after the lift: the grasp is rolled 40 degrees about +y
    (against it), the carried turn stops at 85 degrees; a mug barely turned gets no roll."""
    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.robot_grasp import POUR_MAX_TILT, POUR_ROLL, capped_turn, pour_roll

    angles = np.radians(np.concatenate([np.zeros(20), np.linspace(0.0, 100.0, 40), np.full(20, 100.0)]))
    quat_xyzw = Rotation.from_rotvec(angles[:, None] * np.array([0.0, -1.0, 0.0])).as_quat()
    objects = np.concatenate([np.zeros((len(angles), 3)), np.roll(quat_xyzw, 1, axis=1)], axis=1)  # wxyz
    roll = Rotation.from_matrix(pour_roll(objects, lift=10)).as_rotvec()
    np.testing.assert_allclose(roll, [0.0, POUR_ROLL, 0.0], atol=1e-9)
    assert np.array_equal(pour_roll(objects[:25], lift=10), np.eye(3))  # at most ~11 degrees: no pour
    np.testing.assert_allclose(Rotation.from_matrix(pour_roll(objects, lift=10, roll=0.4)).as_rotvec(),
                               [0.0, 0.4, 0.0], atol=1e-9)  # a candidate's own roll
    from dexmv_learning.demos.robot_grasp import POUR_CANDIDATES, ROBOT_CANDIDATES

    rolls = sorted({round(np.degrees(c.roll)) for c in POUR_CANDIDATES if c.roll is not None})
    assert POUR_CANDIDATES[: len(ROBOT_CANDIDATES)] == ROBOT_CANDIDATES and rolls == [25, 55]
    full = Rotation.from_rotvec(np.radians(100.0) * np.array([0.0, -1.0, 0.0])).as_matrix()
    np.testing.assert_allclose(Rotation.from_matrix(capped_turn(full, POUR_MAX_TILT)).as_rotvec(),
                               [0.0, -POUR_MAX_TILT, 0.0], atol=1e-9)
    small = Rotation.from_rotvec([0.3, 0.0, 0.0]).as_matrix()
    assert np.array_equal(capped_turn(small, POUR_MAX_TILT), small)


def test_a_carry_slowed_to_the_grasp_s_speed_tilts_the_object_where_it_is_on_the_path():
    """gentle_carry plays a fast human carry later, the same path; the orientation goes on the same
    clock, so a pour's tilt, tied to where the mug is on its way, is not made before it gets there
    (with the positions slowed alone, the mug was tipped 10-20 cm short of the container)."""
    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.robot_grasp import gentle_carry

    dt, n, lift = 0.01, 150, 10
    x = np.concatenate([np.zeros(lift), np.linspace(0.0, 0.3, 50), np.full(n - lift - 50, 0.3)])  # 0.6 m/s
    objects = np.zeros((n, 7))
    objects[:, 0] = x
    tilt = np.radians(90.0) * np.clip((x - 0.2) / 0.1, 0, 1)  # tipped over the last 10 cm
    objects[:, 3:] = np.roll(Rotation.from_rotvec(np.outer(tilt, [0.0, 1.0, 0.0])).as_quat(), 1, axis=1)
    for speed in (0.25, 0.4):
        out = gentle_carry(objects, lift, n, dt, max_speed=speed)
        assert np.argmax(out[:, 0] > 0.299) > lift + 60  # arrives later than the human's carry (step lift + 49)
        got = Rotation.from_quat(np.roll(out[:, 3:], -1, axis=1)).as_rotvec()[:, 1]
        assert got[lift + 50] < np.radians(30)  # where the human had tipped it 90 degrees, it is on its way
        want = np.radians(90.0) * np.clip((out[:, 0] - 0.2) / 0.1, 0, 1)
        assert np.abs(got - want).max() < np.radians(20)  # tipped where it is (the positions' low-pass lags 1-2 cm)
        assert got[-1] == pytest.approx(np.radians(90.0), abs=1e-6)
    assert np.argmax(gentle_carry(objects, lift, n, dt, 0.4)[:, 0] > 0.299) < \
        np.argmax(gentle_carry(objects, lift, n, dt, 0.25)[:, 0] > 0.299)


def test_the_pour_follows_the_tilt_of_the_mug_axis_not_its_turn_about_it():
    """A mug turned 90 degrees about z at rest, then tipped 100 degrees about -y while perception's
    estimate spins it up to 60 degrees about its own axis: tilt_only keeps where the axis points and
    drops the spin, so the pour's roll is the clean tilt's (about +y) and rows before the lift are kept."""
    from scipy.spatial.transform import Rotation

    from dexmv_learning.demos.robot_grasp import POUR_ROLL, pour_roll, tilt_only

    n, lift = 80, 10
    tilt = np.radians(np.concatenate([np.zeros(20), np.linspace(0.0, 100.0, 40), np.full(20, 100.0)]))
    spin = np.radians(np.concatenate([np.zeros(10), np.linspace(0.0, 60.0, 50), np.full(20, 60.0)]))
    rest = Rotation.from_euler("z", 90, degrees=True)
    rots = [Rotation.from_rotvec([0.0, -a, 0.0]) * rest * Rotation.from_rotvec([0.0, 0.0, b])
            for a, b in zip(tilt, spin, strict=True)]
    quat = np.stack([np.roll(r.as_quat(), 1) for r in rots])
    objects = np.concatenate([np.tile([0.1, 0.0, 0.05], (n, 1)), quat], axis=1)
    out = tilt_only(objects, lift)
    np.testing.assert_array_equal(out[:lift], objects[:lift])
    np.testing.assert_array_equal(out[:, :3], objects[:, :3])
    for j in range(n):
        got = Rotation.from_quat(np.roll(out[j, 3:], -1)).as_matrix()
        want = (Rotation.from_rotvec([0.0, -tilt[j], 0.0]) * rest).as_matrix()
        np.testing.assert_allclose(got, want, atol=1e-9)  # the axis where perceived, no spin
    np.testing.assert_allclose(Rotation.from_matrix(pour_roll(out, lift)).as_rotvec(), [0.0, POUR_ROLL, 0.0],
                               atol=1e-9)
    spun = Rotation.from_matrix(pour_roll(objects, lift)).as_rotvec()
    assert abs(spun[2]) > 0.1  # with the spin, the roll's axis leans towards the mug's own


def test_the_banana_beyond_the_mug_is_grasped_where_the_open_hand_clears_the_mug():
    """place_inside, the banana lying 13 cm beyond the mug and 10 cm to its side: the palm-down grasp
    of its middle drives the forearm into the mug; clear_of_obstacle's grasp (along the banana, the
    palm turned and tipped) keeps the open hand CLEAR_ENOUGH from it, at the grasp and above it."""
    import mujoco

    from dexmv_learning.demos.robot_grasp import CLEAR_ENOUGH, RIM_CLEARANCE, clear_of_obstacle, hand_clearance
    from dexmv_sim.scene import body_geom_ids, hand_geom_ids
    from dexmv_sim.scripted import OPEN_HAND, ArmIK
    from dexmv_sim.simulation import TaskSimulation
    from dexmv_sim.tasks.base import N_HAND

    sim = TaskSimulation("place_inside")
    sim.reset(np.random.default_rng(0), {"banana_pos": [0.10, 0.13]})
    model = sim.model
    ik = ArmIK(model)
    _, down = ik.site_pose(np.zeros(N_HAND))
    banana = sim.data.xpos[model.body("011_banana").id].copy()
    middle = np.array([banana[0], banana[1], 0.02])
    start = np.concatenate([np.zeros(8), OPEN_HAND[8:]])
    hand, mug = hand_geom_ids(model), body_geom_ids(model, "025_mug")
    data = mujoco.MjData(model)
    data.qpos[:] = sim.data.qpos
    assert hand_clearance(model, data, ik.solve(start, middle, down, 150), hand, mug) < 0  # into the mug
    above_z = float(sim.task.top[2]) + RIM_CLEARANCE
    chosen = clear_of_obstacle(sim, ik, middle, down, "011_banana", "025_mug", OPEN_HAND, np.zeros(N_HAND), above_z)
    assert chosen.clearance >= CLEAR_ENOUGH
    assert abs(chosen.point[1] - banana[1]) < 1e-9 and abs(chosen.point[0] - banana[0]) <= 0.075 + 1e-9
    q = ik.solve(start, chosen.point, chosen.rot, 150)
    np.testing.assert_allclose(ik.site_pose(q)[0], chosen.point, atol=0.005)
    assert hand_clearance(model, data, q, hand, mug) >= CLEAR_ENOUGH


def test_place_inside_is_perceived_with_its_mug_and_converted_with_the_banana_only(tmp_path):
    """The banana lying beside place_inside's mug, looked for alone, was fitted to the mug's wall or
    the arm (0.3-1 m off at confidence 0.35-0.5): every object of the recording is tracked now, each
    one's points taken out before the next, and only the moved one is converted. Poses perceived
    before (the banana alone) are perceived again, not reused."""
    from dexmv_capture.synthetic.synthesize import load_ground_truth, synthesize
    from dexmv_learning.demos.perceived_source import perceived_trajectory, pose_file_objects, recording_dir

    folder = recording_dir(tmp_path, "place_inside", 0, 1.0)
    synthesize("place_inside", 1.0, 0, folder)
    poses = folder / "poses.npz"  # as `dexmv demos --default` left it before: the banana's track alone
    np.savez(poses, object_ids=np.array(["011_banana"]), keypoints=np.zeros((1, 21, 3)), stamps=np.zeros(1))
    traj = perceived_trajectory("place_inside", 0, 1.0, tmp_path)
    assert sorted(pose_file_objects(poses)) == ["011_banana", "025_mug"]  # perceived again, with the mug
    assert traj.object_ids == ["011_banana"] and traj.source == "perception"
    truth, _ = load_ground_truth(folder / "ground_truth.npz")
    resting = truth["object_pose/object"][:9, :3, 3]  # the first 0.3 s: the hand is still far away
    seen = traj.object_confidence[:9, 0] >= 0.3
    assert seen.sum() >= 6
    error = np.linalg.norm(traj.object_poses[:9, 0, :3][seen] - resting[seen], axis=1)
    assert error.max() < 0.02, error
