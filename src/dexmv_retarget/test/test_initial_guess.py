"""Stage 1: on the robot's own keypoints the closed-form guess recovers the joints exactly."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexmv_retarget.initial_guess import InitialGuess
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.palm_frame import fit_rotation, palm_rotation
from dexmv_sim.adroit import ADROIT_JOINTS

FLEXION = [ADROIT_JOINTS.index(n) for n in ADROIT_JOINTS if n[2:] in ("J2", "J1", "J0") and n[:2] in
           ("FF", "MF", "RF", "LF")] + [ADROIT_JOINTS.index("THJ3")]


@pytest.fixture(scope="module")
def guess():
    return InitialGuess(AdroitKinematics())


def _random_joints(kin, n, seed):
    q = np.random.default_rng(seed).uniform(kin.lower * 0.9, kin.upper * 0.9, size=(n, len(ADROIT_JOINTS)))
    q[:, 6:8] = 0.0  # wrist joints: the guess gives the palm rotation to the arm first
    q[:, ADROIT_JOINTS.index("LFJ4")] = 0.0  # no keypoint measures the little metacarpal
    q[:, FLEXION] = np.maximum(q[:, FLEXION], 0.05)  # away from the singular straight pose
    return q


def test_guess_recovers_robot_joints_exactly(guess):
    q = _random_joints(guess.kin, 200, seed=0)
    np.testing.assert_allclose(guess.guess(guess.kin.keypoints(q)), q, atol=1e-9)


def test_single_frames_equal_the_vectorized_batch(guess):
    kp = guess.kin.keypoints(_random_joints(guess.kin, 20, seed=1))
    batch = guess.guess(kp)
    for t in range(kp.shape[0]):
        np.testing.assert_allclose(guess.guess(kp[t]), batch[t], atol=1e-12)


def test_palm_pose_follows_the_palm_body_for_any_arm_and_wrist_pose(guess):
    kin = guess.kin
    q = np.random.default_rng(2).uniform(kin.lower, kin.upper, size=(50, len(ADROIT_JOINTS)))
    q[:, ADROIT_JOINTS.index("LFJ4")] = 0.0  # the little MCP, which the frame uses, is then rigid in the palm
    kp = kin.keypoints(q)
    rot, pos = guess.palm_pose(kp)
    poses = kin.forward(q)
    palm = kin.model.body("palm").id
    np.testing.assert_allclose(pos, poses.position[:, palm], atol=1e-12)
    np.testing.assert_allclose(rot, poses.rotation[:, palm], atol=1e-12)


def test_rigid_palm_fit_recovers_any_rotation_despite_little_finger_cupping(guess):
    kin = guess.kin
    rng = np.random.default_rng(5)
    q0 = np.zeros(len(ADROIT_JOINTS))
    ref = kin.keypoints(q0)
    for _ in range(10):
        q = q0.copy()
        q[ADROIT_JOINTS.index("LFJ4")] = rng.uniform(0, kin.upper[ADROIT_JOINTS.index("LFJ4")])
        rot = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
        kp = kin.keypoints(q) @ rot.T + rng.normal(size=3)
        mcps = [5, 9, 13]
        fitted = fit_rotation(kp[mcps] - kp[0], ref[mcps] - ref[0])
        np.testing.assert_allclose(fitted @ rot, np.eye(3), atol=1e-9)


def test_finger_guess_is_invariant_to_where_the_hand_is(guess):
    kin = guess.kin
    q = _random_joints(kin, 10, seed=3)
    kp = kin.keypoints(q)
    rot = Rotation.from_euler("xyz", [0.3, -1.1, 2.0])
    moved = rot.apply(kp.reshape(-1, 3)).reshape(kp.shape) + np.array([0.4, 0, 1])
    a = guess.finger_joints(kp, guess.palm_pose(kp)[0])
    b = guess.finger_joints(moved, guess.palm_pose(moved)[0])
    np.testing.assert_allclose(a[:, 8:], b[:, 8:], atol=1e-9)


def test_guess_stays_within_limits_on_any_keypoints(guess):
    kp = np.random.default_rng(4).normal(scale=0.1, size=(500, 21, 3))
    q = guess.guess(kp)
    assert np.isfinite(q).all()
    assert guess.kin.limit_violation(q) == 0.0


def test_mirrored_hand_is_its_own_inverse_and_keeps_the_pose(guess):
    from dexmv_retarget.palm_frame import mirror_hand

    kin = guess.kin
    kp = kin.keypoints(_random_joints(kin, 10, seed=6))
    left = mirror_hand(kp)
    np.testing.assert_allclose(mirror_hand(left), kp, atol=1e-12)
    # Same wrist, same distances between keypoints, fingers the same way; the thumb on the other side.
    np.testing.assert_allclose(left[:, 0], kp[:, 0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(left[:, 8] - left[:, 4], axis=-1),
                               np.linalg.norm(kp[:, 8] - kp[:, 4], axis=-1), atol=1e-12)
    across = palm_rotation(kp)[..., 0]
    assert np.all(np.sum((left[:, 4] - left[:, 0]) * across, -1) * np.sum((kp[:, 4] - kp[:, 0]) * across, -1) <= 0)
