"""The human hand skeleton: proportions, keypoint order, joint conventions, limits, batching."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexmv_capture.synthetic.human_hand import (
    BONES,
    FINGER_KEYPOINTS,
    SEGMENT_RATIOS,
    HandAngles,
    HandShape,
    hand_keypoints,
)


def _random_angles(rng, frames):
    lo = HandAngles.from_vector(np.full(21, -1.0)).clipped().to_vector()
    hi = HandAngles.from_vector(np.full(21, 3.0)).clipped().to_vector()
    return HandAngles.from_vector(rng.uniform(lo, hi, (frames, 21)))


def test_bone_lengths_are_the_anthropometric_ratios_at_any_pose():
    shape = HandShape(hand_length=0.19, scale=1.1)
    rng = np.random.default_rng(0)
    kp = hand_keypoints(shape, np.eye(4), _random_angles(rng, 50))
    assert kp.shape == (50, 21, 3)
    for f, (name, idx) in enumerate(FINGER_KEYPOINTS.items()):
        for s in range(3):
            length = np.linalg.norm(kp[:, idx[s + 1]] - kp[:, idx[s]], axis=-1)
            np.testing.assert_allclose(length, SEGMENT_RATIOS[f, s] * 0.19 * 1.1, rtol=1e-9, err_msg=name)


def test_open_hand_middle_finger_spans_the_hand_length_and_points_distally():
    shape = HandShape()
    kp = hand_keypoints(shape, np.eye(4), HandAngles.from_curl(0.0, 0.0, dip_ratio=0.0))
    assert np.linalg.norm(kp[12] - kp[0]) == pytest.approx(shape.hand_length, rel=0.01)
    for idx in FINGER_KEYPOINTS.values():  # each finger runs outwards from the wrist
        dist = np.linalg.norm(kp[list(idx)] - kp[0], axis=-1)
        assert np.all(np.diff(dist) > 0)
    assert kp[8, 1] > kp[12, 1] > kp[16, 1] > kp[20, 1]  # index radial (+y) ... little ulnar
    assert kp[4, 1] > kp[8, 1]  # the thumb is the most radial
    assert {b for bone in BONES for b in bone} == set(range(21)) and len(BONES) == 20


def test_flexion_curls_towards_the_palm_and_dip_follows_two_thirds_of_pip():
    shape = HandShape()
    flat = hand_keypoints(shape, np.eye(4), HandAngles.from_curl(0.0, 0.0))
    fist = HandAngles.from_curl(1.2, 1.5, thumb=[0.5, 0.3, 0.5, 0.8])
    curled = hand_keypoints(shape, np.eye(4), fist)
    assert np.all(curled[[8, 12, 16, 20], 2] < flat[[8, 12, 16, 20], 2] - 0.03)  # palm side is -z
    np.testing.assert_allclose(fist.finger_flexion[:, 2], 1.0)  # 2/3 of 1.5
    assert fist.within_limits()


def test_limits_clip_every_joint():
    wild = HandAngles.from_vector(np.full(21, 5.0))
    assert not wild.within_limits()
    clipped = wild.clipped()
    assert clipped.within_limits()
    assert np.all(clipped.finger_flexion[:, 1] <= np.deg2rad(110) + 1e-12)  # PIP


def test_batched_equals_frame_by_frame_and_pose_is_applied():
    rng = np.random.default_rng(1)
    shape = HandShape.sample(rng)
    angles = _random_angles(rng, 7)
    poses = np.repeat(np.eye(4)[None], 7, axis=0)
    poses[:, :3, :3] = Rotation.random(7, random_state=2).as_matrix()
    poses[:, :3, 3] = rng.normal(size=(7, 3))
    batch = hand_keypoints(shape, poses, angles)
    for t in range(7):
        single = hand_keypoints(shape, poses[t], angles[t])
        np.testing.assert_allclose(batch[t], single, atol=1e-12)
        local = hand_keypoints(shape, np.eye(4), angles[t])
        np.testing.assert_allclose(single, local @ poses[t, :3, :3].T + poses[t, :3, 3], atol=1e-12)
    np.testing.assert_allclose(batch[:, 0], poses[:, :3, 3], atol=1e-12)  # keypoint 0 is the wrist origin


def test_vector_round_trip_and_bad_pose():
    angles = HandAngles.rest()
    back = HandAngles.from_vector(angles.to_vector())
    for a, b in zip(angles.as_tuple(), back.as_tuple(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="4x4"):
        hand_keypoints(HandShape(), np.eye(3), angles)
