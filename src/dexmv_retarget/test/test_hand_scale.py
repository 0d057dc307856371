"""Hand size: running median of chain lengths, frozen after its window; robust to bad frames."""

import numpy as np

from dexmv_retarget.hand_scale import HandScale
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.task_vectors import NUM_VECTORS, chain_lengths


def test_running_median_ignores_outlier_frames_and_freezes():
    """Two frames with a fingertip 20 cm off: their too-long chains never enter the estimate (the
    window fills two frames later), and the result is exactly the true hand's."""
    kin = AdroitKinematics()
    kp = kin.keypoints(np.zeros(30))
    robot = chain_lengths(kp)
    scale = HandScale(robot, window=9)
    human = kp[0] + 0.9 * (kp - kp[0])  # a hand 10 % smaller
    valid = np.ones(21, bool)
    for t in range(11):
        frame = human.copy()
        if t in (2, 5):  # two frames with a wildly wrong fingertip
            frame[8] += 0.2
        scale.update(frame, valid)
        assert scale.frozen == (t == 10)
    np.testing.assert_allclose(scale.factors(), np.full(NUM_VECTORS, 1 / 0.9), rtol=1e-9)
    scale.update(kp + 1.0, valid)  # frozen: no effect
    np.testing.assert_allclose(scale.factors(), np.full(NUM_VECTORS, 1 / 0.9), rtol=1e-9)


def test_unseen_vectors_borrow_the_others_ratio_and_estimation_stops():
    kin = AdroitKinematics()
    kp = kin.keypoints(np.zeros(30))
    scale = HandScale(chain_lengths(kp), window=3)
    valid = np.ones(21, bool)
    valid[[19, 20]] = False  # little finger tip never seen
    for _ in range(30):
        scale.update(kp * 0.8 + 0.2 * kp[0], valid)
    assert scale.frozen  # after 10 windows, even with a vector never measured
    factors = scale.factors()
    assert np.isfinite(factors).all()
    np.testing.assert_allclose(factors, 1.25, rtol=1e-9)


def test_chain_lengths_and_validity_match_a_walk_along_each_chain():
    from dexmv_retarget.task_vectors import CHAINS, chain_validity

    rng = np.random.default_rng(0)
    kp = rng.normal(size=(7, 21, 3))
    kp[2, 8] = np.nan
    kp[3, 0] = np.nan
    walked = np.array([[sum(np.linalg.norm(kp[t, c[k + 1]] - kp[t, c[k]]) for k in range(len(c) - 1))
                        for c in CHAINS] for t in range(7)])
    np.testing.assert_allclose(chain_lengths(kp), walked, equal_nan=True)
    valid = rng.random((7, 21)) > 0.2
    expected = np.array([[valid[t, list(c)].all() for c in CHAINS] for t in range(7)])
    np.testing.assert_array_equal(chain_validity(valid), expected)


def test_paper_vectors_share_one_scale():
    """The paper's ten vectors get one factor (robot size / human size), the others their own."""
    from dexmv_retarget.task_vectors import PAPER

    kin = AdroitKinematics()
    kp = kin.keypoints(np.zeros(30))
    robot = chain_lengths(kp)
    human = kp[0] + 0.85 * (kp - kp[0])
    human[8] = human[7] + 1.3 * (human[8] - human[7])  # a longer index tip: per-vector ratios now differ
    scale = HandScale(robot, window=30)
    valid = np.ones(21, bool)
    for _ in range(30):
        scale.update(human, valid)
    factors = scale.factors()
    expected = robot[PAPER].sum() / chain_lengths(human)[PAPER].sum()
    np.testing.assert_allclose(factors[PAPER], expected, rtol=1e-9)
    np.testing.assert_allclose(scale.paper_scale, expected, rtol=1e-9)
    np.testing.assert_allclose(factors[10:], robot[10:] / chain_lengths(human)[10:], rtol=1e-9)
