"""The headline error is DexMV's: ten wrist->tip / wrist->PIP vectors, one scale for the hand."""

import numpy as np
import pytest

from dexmv_retarget import paper_metric as pm
from dexmv_retarget.kinematics import AdroitKinematics


@pytest.fixture(scope="module")
def kin():
    return AdroitKinematics()


def test_vectors_are_the_papers_ten():
    assert pm.PAPER_VECTOR_PAIRS.tolist() == [[0, 4], [0, 8], [0, 12], [0, 16], [0, 20],
                                              [0, 2], [0, 6], [0, 10], [0, 14], [0, 18]]


def test_hand_computed_error_with_a_given_scale(kin):
    rest = kin.keypoints(np.zeros(30))
    human = rest[None].copy()
    robot = rest[None].copy()
    robot[0, 8] += [0.003, 0.0, 0.004]  # index tip 5 mm off: one of ten vectors
    result = pm.evaluate(human, robot, rest, scaling_factor=1.0)
    assert result.tsv_error_mm == pytest.approx(5.0 / 10, abs=1e-9)
    assert result.scale_source == "given"


def test_one_fitted_scale_undoes_a_uniformly_smaller_hand_but_not_other_proportions(kin):
    rest = kin.keypoints(np.zeros(30))
    small = rest[0] + 0.8 * (rest - rest[0])
    same = pm.evaluate(small[None], rest[None], rest)
    assert same.scale == pytest.approx(1.25) and same.tsv_error_mm < 1e-9
    long_index = small.copy()
    long_index[8] = small[7] + 2.0 * (small[8] - small[7])  # a longer distal phalanx
    other = pm.evaluate(long_index[None], rest[None], rest)
    assert other.tsv_error_mm > 1.0  # per-vector scales would have hidden it


def test_scale_is_robust_to_a_minority_of_wrong_frames(kin):
    rest = kin.keypoints(np.zeros(30))
    frames = np.repeat((rest[0] + 0.9 * (rest - rest[0]))[None], 30, axis=0)
    frames[:10] = rest[0] + 3.0 * (rest - rest[0])  # a third of the frames 3x too large
    assert pm.fit_scale(frames, rest) == pytest.approx(1 / 0.9)


def test_fingers_only_ignores_the_palm_orientation(kin):
    from scipy.spatial.transform import Rotation

    rest = kin.keypoints(np.zeros(30))
    turned = Rotation.from_euler("xyz", [0.3, -1.0, 2.0]).apply(rest - rest[0]) + np.array([0.1, 0.2, 0.3])
    assert pm.evaluate(turned[None], rest[None], rest, fingers_only=True).tsv_error_mm < 1e-6
    assert pm.evaluate(turned[None], rest[None], rest, fingers_only=False).tsv_error_mm > 10.0
