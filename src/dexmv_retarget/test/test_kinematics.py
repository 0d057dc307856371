"""Our kinematics of the Adroit keypoints against MuJoCo's own forward kinematics."""

import mujoco
import numpy as np
import pytest

from dexmv_retarget.kinematics import ROBOT_KEYPOINTS, AdroitKinematics
from dexmv_sim.adroit import ADROIT_JOINTS


@pytest.fixture(scope="module")
def kin():
    return AdroitKinematics()


def test_vectorized_forward_kinematics_matches_mujoco_body_poses(kin):
    rng = np.random.default_rng(0)
    q = rng.uniform(kin.lower, kin.upper, size=(40, len(ADROIT_JOINTS)))
    poses = kin.forward(q)
    data = mujoco.MjData(kin.model)
    for i in range(q.shape[0]):
        data.qpos[:] = q[i]
        mujoco.mj_kinematics(kin.model, data)
        np.testing.assert_allclose(poses.position[i], data.xpos, atol=1e-12)
        np.testing.assert_allclose(poses.rotation[i], data.xmat.reshape(-1, 3, 3), atol=1e-12)
        sites = [mujoco.mj_name2id(kin.model, mujoco.mjtObj.mjOBJ_SITE, n) for k, n in ROBOT_KEYPOINTS if k == "site"]
        kp = kin.keypoints(q[i])
        np.testing.assert_allclose(kp[[4, 8, 12, 16, 20]], data.site_xpos[sites], atol=1e-12)


def test_single_frame_keypoints_match_vectorized_and_jacobian_matches_finite_differences(kin):
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = rng.uniform(kin.lower, kin.upper)
        points, jac = kin.keypoints_and_jacobian(q)
        jac = jac.copy()
        np.testing.assert_allclose(points, kin.keypoints(q), atol=1e-13)
        eps = 1e-6
        numeric = np.stack([(kin.keypoints(q + eps * e) - kin.keypoints(q - eps * e)) / (2 * eps)
                            for e in np.eye(q.size)], axis=-1)
        np.testing.assert_allclose(jac, numeric, atol=1e-8)


def test_keypoint_rows_subset_and_limits(kin):
    q = np.zeros(len(ADROIT_JOINTS))
    rows = np.array([0, 8, 20])
    _, jac_sub = kin.keypoints_and_jacobian(q, rows)
    jac_sub = jac_sub.copy()
    _, jac_all = kin.keypoints_and_jacobian(q)
    np.testing.assert_array_equal(jac_sub, jac_all[rows])
    # The wrist keypoint (palm origin) moves with the arm and wrist joints only.
    assert np.abs(jac_all[0][:, 8:]).max() == 0 and np.abs(jac_all[0][:, :8]).max() > 0
    assert kin.limit_violation(kin.lower) == 0.0
    assert kin.limit_violation(kin.upper + 0.1) == pytest.approx(0.1)


def test_couplings_are_read_from_the_model_and_projected_onto():
    """Adroit's DIP follows its PIP through limited tendons (0.00705 J0 - 0.00805 J1 within +-1 mm):
    the kinematics reads them from the model, and `project` moves any q into every band."""
    import numpy as np

    from dexmv_retarget.kinematics import AdroitKinematics
    from dexmv_sim.adroit import ADROIT_JOINTS

    kin = AdroitKinematics()
    coupled = {(ADROIT_JOINTS[i], ADROIT_JOINTS[j]) for i, j, *_ in kin.couplings}
    assert {("FFJ0", "FFJ1"), ("MFJ0", "MFJ1"), ("RFJ0", "RFJ1"), ("LFJ0", "LFJ1")} <= coupled
    q = np.zeros(30)
    q[ADROIT_JOINTS.index("LFJ0")] = 1.3  # the bent-DIP, straight-PIP finger the model cannot take
    assert kin.coupling_violation(q) > 0.005
    rng = np.random.default_rng(0)
    for sample in [q, *rng.uniform(kin.lower, kin.upper, (50, 30))]:
        p = kin.project(sample)
        assert kin.coupling_violation(p) < 1e-9 and kin.limit_violation(p) == 0.0
    inside = kin.project(rng.uniform(kin.lower, kin.upper, 30))
    np.testing.assert_array_equal(kin.project(inside), inside)  # already allowed: unchanged


def _project_with_numpy(kin, q, sweeps=4):
    """`project` as first written, each coupling in turn on numpy scalars: the reference its faster form must equal."""
    q = np.clip(q, kin.lower, kin.upper)
    for _ in range(sweeps):
        moved = False
        for i, j, ci, cj, lo, hi in kin.couplings:
            t = ci * q[i] + cj * q[j]
            if t < lo or t > hi:
                d = (min(max(t, lo), hi) - t) / (ci * ci + cj * cj)
                q[i] += d * ci
                q[j] += d * cj
                moved = True
        q = np.clip(q, kin.lower, kin.upper)
        if not moved:
            break
    return q


def test_fast_paths_give_the_same_numbers(kin):
    """The solver's cheaper calls: `points_and_jacobian` (points gathered in one step) equals
    `keypoints_and_jacobian` on the same rows, and `project` on plain floats equals the same sweeps
    on numpy scalars, bit for bit."""
    rng = np.random.default_rng(2)
    rows = np.array([0, 2, 4, 5, 6, 8, 9, 12, 17, 20])
    for q in rng.uniform(kin.lower - 0.3, kin.upper + 0.3, (30, len(ADROIT_JOINTS))):
        points, jac = kin.points_and_jacobian(q, rows)
        jac = jac.copy()
        all_points, all_jac = kin.keypoints_and_jacobian(q, rows)
        np.testing.assert_array_equal(points, all_points[rows])
        np.testing.assert_array_equal(jac, all_jac)
        np.testing.assert_array_equal(kin.points_and_jacobian(q, rows, jacobian=False)[0], points)
        assert kin.coupling_violation(q) > 0  # the projection has work to do
        np.testing.assert_array_equal(kin.project(q), _project_with_numpy(kin, q))
