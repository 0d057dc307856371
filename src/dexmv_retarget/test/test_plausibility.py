"""Nonsense input is rejected with a named reason, never retargeted as OK; real hands pass."""

import numpy as np
import pytest

from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.palm_frame import mirror_hand
from dexmv_retarget.plausibility import Workspace, check_hand
from dexmv_retarget.retargeter import FrameStatus, RetargetConfig, Retargeter
from dexmv_retarget.robot_motion import robot_keypoints, smooth_joint_trajectory

# MANO's raw joint order (wrist, index, middle, little, ring, thumb, then tips) read as ours.
MANO_ORDER = [0, 5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3, 4, 8, 12, 16, 20]


@pytest.fixture(scope="module")
def kin():
    return AdroitKinematics()


@pytest.fixture(scope="module")
def human():
    from dexmv_capture.synthetic.hand_motion import task_motion

    return task_motion("relocate-mustard_bottle", seed=0, seconds=2.0, fps=30.0).keypoints


def _reasons(kps, workspace=None):
    return [check_hand(k, np.isfinite(k).all(axis=1), workspace).reasons for k in kps]


def test_human_and_robot_hands_in_reach_pass(kin, human):
    workspace = Workspace.of_robot(kin)
    assert all(r == () for r in _reasons(human, workspace))
    q = smooth_joint_trajectory(kin, 90, 30.0, seed=3, max_frequency_hz=0.5)
    assert all(r == () for r in _reasons(robot_keypoints(kin, q, noise_m=0.003, seed=3), workspace))


@pytest.mark.parametrize(("name", "reason"), [("zeros", "bone_length"), ("huge", "bone_length"),
                                              ("millimetres", "bone_length"), ("x3", "bone_length"),
                                              ("mano_order", "bone_length"), ("far", "workspace")])
def test_nonsense_is_rejected_with_its_reason(kin, human, name, reason):
    wrist = human[:, :1]
    bad = {"zeros": np.zeros_like(human), "huge": np.full_like(human, 1e9) * np.arange(21)[None, :, None],
           "millimetres": human * 1000.0, "x3": wrist + 3.0 * (human - wrist), "mano_order": human[:, MANO_ORDER],
           "far": human + 100.0}[name]
    assert all(reason in r for r in _reasons(bad, Workspace.of_robot(kin)))


def test_mirrored_hand_is_caught_when_the_fingers_bend(human):
    flagged = ["handedness" in r for r in _reasons(mirror_hand(human))]
    assert np.mean(flagged) > 0.5  # flat-hand frames are ambiguous and pass


def test_retargeter_holds_the_last_good_solution_on_rejected_frames(kin, human):
    rt = Retargeter(kinematics=kin)
    good = rt.step(human[0])
    assert good.status == FrameStatus.OK
    for frame in (np.zeros((21, 3)), human[1] + 100.0, human[1] * 1000.0, human[1][MANO_ORDER]):
        res = rt.step(frame)
        assert res.status == FrameStatus.REJECTED and res.reasons, res.message
        np.testing.assert_array_equal(res.joints, good.joints)
    off = Retargeter(RetargetConfig(check_plausibility=False), kinematics=kin).step(human[1][MANO_ORDER])
    assert off.status == FrameStatus.OK  # the checks are what rejects it


def test_a_bad_start_does_not_freeze_a_wrong_hand_size(kin, human):
    """16 of the first 30 frames three times too large (the issue's case): rejected, so the hand
    size and every later frame are as with a clean start; recalibrate() starts a new estimate."""
    wrist = human[:, :1]
    bad = human.copy()
    bad[:16] = (wrist + 3.0 * (human - wrist))[:16]
    clean = Retargeter(kinematics=kin).retarget(human)
    spoiled = Retargeter(kinematics=kin).retarget(bad)
    assert (spoiled.status[:16] == FrameStatus.REJECTED).all()
    assert (spoiled.status[16:] == FrameStatus.OK).all()
    rt = Retargeter(kinematics=kin)
    rt.retarget(bad)
    clean_rt = Retargeter(kinematics=kin)
    clean_rt.retarget(human[16:])
    np.testing.assert_allclose(rt.scale.factors(), clean_rt.scale.factors(), rtol=1e-12)
    assert spoiled.tsv_error_mm < clean.tsv_error_mm + 1.0
    rt.recalibrate()
    assert not rt.scale.frozen


def test_camera_frame_input_in_world_mode_is_flagged(kin, human):
    """Keypoints left in a camera frame: outside the reach box (rejected) or, where inside it, the
    palm cannot get there: the frame is flagged wrist_unreachable, never silently OK."""
    rot = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    camera = (human - np.array([0.0, -0.6, 0.9])) @ rot.T  # a camera 0.6 m behind, 0.9 m above
    res = Retargeter(kinematics=kin).retarget(camera)
    flagged = [bool(set(r) & {"workspace", "wrist_unreachable"}) for r in res.reasons]
    assert all(flagged)


def test_a_few_misplaced_finger_keypoints_are_dropped_not_the_whole_hand(kin, human):
    """A detector's fingertip put on the joint below it (a 2 mm bone) for half a second loses that
    fingertip's vector, not the frames: the arm follows the wrist as on clean frames (it was held
    before, and jumped at the next good frame); every fingertip collapsed is still rejected."""
    spoiled = human.copy()
    spoiled[10:25, 16] = spoiled[10:25, 15] + 0.002  # ring tip on its DIP
    clean, res = Retargeter(kinematics=kin).retarget(human[:25]), Retargeter(kinematics=kin).retarget(spoiled[:25])
    assert (res.status[10:25] == FrameStatus.PARTIAL).all()
    assert res.messages[20] == "keypoints [16] dropped: their bones are not a human hand's"
    assert np.isnan(res.vector_error_mm[10:25, 3]).all()  # wrist -> ring tip unused
    moved = np.abs(clean.raw[24, :3] - clean.raw[9, :3]).max()
    assert moved > 0.01  # the arm travelled over those frames ...
    np.testing.assert_allclose(res.raw[24, :3], clean.raw[24, :3], atol=1e-3)  # ... and followed to 1 mm
    np.testing.assert_allclose(res.raw[24, 3:8], clean.raw[24, 3:8], atol=0.05)
    collapsed = human[12].copy()
    for tip, below in ((4, 3), (8, 7), (12, 11), (16, 15), (20, 19)):
        collapsed[tip] = collapsed[below] + 0.002
    frame = Retargeter(kinematics=kin).step(collapsed)
    assert frame.status == FrameStatus.REJECTED and "bone_length" in frame.reasons, frame.message
