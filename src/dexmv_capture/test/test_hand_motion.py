"""Synthetic task motions: complete, reproducible, physically plausible, doing what each task asks."""

import numpy as np
import pytest

from dexmv_capture.synthetic.grasp import object_proxy
from dexmv_capture.synthetic.hand_motion import PHASES, TASKS, MotionError, task_motion


@pytest.fixture(scope="module", params=TASKS)
def motion(request):
    return task_motion(request.param, seed=3, seconds=4.0, fps=30.0)


def test_shapes_and_values(motion):
    assert motion.frames == 120
    assert motion.keypoints.shape == (120, 21, 3) and motion.wrist_pose.shape == (120, 4, 4)
    assert np.all(np.isfinite(motion.keypoints))
    np.testing.assert_allclose(motion.keypoints[:, 0], motion.wrist_pose[:, :3, 3])
    assert motion.angles.batch_shape == (120,) and motion.angles.within_limits()
    assert motion.object_pose.shape == (120, 4, 4)
    assert {"reach", "close"} <= {PHASES[i] for i in motion.phase}


def test_hand_stays_above_the_table_and_moves_smoothly(motion):
    assert motion.keypoints[:, :, 2].min() > -0.002
    speed = np.linalg.norm(np.diff(motion.keypoints, axis=0), axis=-1) * motion.fps
    assert speed.max() < 3.0  # m/s: fast human hand motions stay below this
    jerk_free = np.linalg.norm(np.diff(motion.wrist_pose[:, :3, 3], 2, axis=0), axis=-1).max() * motion.fps**2
    assert jerk_free < 20.0  # m/s^2: no jumps between frames


def test_object_moves_rigidly_with_the_hand_only_while_grasped(motion):
    phases = motion.phase_names()
    obj, wrist = motion.object_pose, motion.wrist_pose
    rel = np.linalg.inv(wrist) @ obj
    held = [t for t, p in enumerate(phases) if p in ("lift", "move")]
    np.testing.assert_allclose(rel[held], np.repeat(rel[held[:1]], len(held), axis=0), atol=1e-9)
    before = [t for t, p in enumerate(phases) if p in ("idle", "reach")]
    np.testing.assert_array_equal(obj[before], np.repeat(obj[:1], len(before), axis=0))
    # at the grasp the fingertips are at the object's surface (within 2 cm), not in the air
    proxy = object_proxy(motion.objects[motion.manipulated].object_id)
    t = held[0]
    local = (motion.keypoints[t] - obj[t, :3, 3]) @ obj[t, :3, :3]
    tips = proxy.distance(local[[8, 12, 16]])
    assert np.all(tips < 0.02), tips


def test_task_goal_is_reached(motion):
    obj = motion.object_pose
    if motion.task.startswith("relocate"):
        proxy = object_proxy(motion.objects["object"].object_id)
        centre = obj[-1, :3, :3] @ proxy.center + obj[-1, :3, 3]
        assert np.linalg.norm(centre - motion.target) < 0.03
    elif motion.task == "pour":
        tilt = np.degrees(np.arccos(np.clip(obj[:, 2, 2], -1, 1))).max()  # mug z axis from vertical
        assert tilt > 90
        assert obj[-1, 2, 2] > 0.999 and abs(obj[-1, 2, 3] - obj[0, 2, 3]) < 1e-9  # set down upright
    else:
        from dexmv_sim.objects import object_cavity

        mug = motion.objects["mug"]
        cavity = object_cavity("025_mug", mug.scale)
        local = mug.poses[-1, :3, :3].T @ (obj[-1, :3, 3] - mug.poses[-1, :3, 3])
        assert np.hypot(local[0] - cavity.center_xy[0], local[1] - cavity.center_xy[1]) < cavity.radius
        assert cavity.z_bottom < local[2] < cavity.z_top


def test_same_seed_same_motion_other_seed_other_motion():
    a = task_motion("relocate-mug", 5, 2.0)
    b = task_motion("relocate-mug", 5, 2.0)
    c = task_motion("relocate-mug", 6, 2.0)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert np.abs(a.keypoints - c.keypoints).max() > 0.02
    assert a.shape.hand_length != c.shape.hand_length


def test_given_object_pose_is_used():
    pose = np.eye(4)
    pose[:3, 3] = [0.05, 0.02, 0.0505]
    m = task_motion("relocate-tomato_soup_can", 0, 2.0, object_pose=pose)
    np.testing.assert_allclose(m.object_pose[0], pose)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"task": "relocate-teapot"}, "unknown task 'relocate-teapot'; tasks: relocate-mustard_bottle"),
    ({"task": "pour", "seconds": 0.5}, "seconds must be at least 1.0"),
    ({"task": "pour", "fps": 0.0}, "fps must be positive"),
    ({"task": "pour", "object_pose": np.eye(3)}, "4x4"),
])
def test_bad_arguments_are_named(kwargs, needle):
    args = {"seed": 0, "seconds": 2.0, **kwargs}
    with pytest.raises(MotionError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        task_motion(**args)


@pytest.mark.parametrize("seed", range(6))
def test_place_inside_goes_over_the_mug_not_through_it(seed):
    """The banana lies beyond the 16 cm mug: the hand reaches over the rim, grasps beside the mug's
    footprint, and the banana is lifted above the rim before it is carried over to the opening."""
    from dexmv_capture.synthetic.hand_motion import hand_clearance_from_mug

    motion = task_motion("place_inside", seed=seed, seconds=4.0)
    phases = motion.phase_names()
    for t, phase in enumerate(phases):
        if phase in ("idle", "reach", "approach", "close", "lift", "move"):
            # joint centres; > -5 mm: a banana left 8 mm from the wall (seed 4) has the thumb brush the mug
            assert hand_clearance_from_mug(motion.keypoints[t]) > -0.005, (phase, t)
    mug = motion.objects["mug"]
    from dexmv_sim.objects import MUG_WALL, object_cavity

    cavity = object_cavity("025_mug", mug.scale)
    axis = mug.poses[0, :3, 3] + mug.poses[0, :3, :3] @ np.array([*cavity.center_xy, cavity.z_top])
    outer = cavity.radius + MUG_WALL * mug.scale
    proxy = object_proxy("011_banana")
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * proxy.half_size
    for t, phase in enumerate(phases):
        if phase in ("lift", "move"):
            pts = (motion.object_pose[t, :3, :3] @ (corners + proxy.center).T).T + motion.object_pose[t, :3, 3]
            over = np.linalg.norm(pts[:, :2] - axis[:2], axis=1) < outer
            assert np.all(pts[over, 2] > axis[2]), (phase, t)  # over the footprint only above the rim
