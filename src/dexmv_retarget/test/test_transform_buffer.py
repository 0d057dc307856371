"""The latest-transform buffer: chains through common ancestors, clear errors, stale and late messages."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexmv_retarget.transform_buffer import TransformBuffer, TransformLookupError, transform_matrix


def _random_pose(rng):
    return rng.normal(size=3), Rotation.random(random_state=int(rng.integers(1 << 31))).as_quat()


def test_lookup_chains_through_the_common_ancestor():
    rng = np.random.default_rng(0)
    buf = TransformBuffer()
    poses = {name: _random_pose(rng) for name in ("camera1_link", "camera2_link", "camera1_optical")}
    buf.set_transform("world", "camera1_link", *poses["camera1_link"], static=True)
    buf.set_transform("world", "camera2_link", *poses["camera2_link"], static=True)
    buf.set_transform("/camera1_link", "camera1_optical", *poses["camera1_optical"], static=True)
    m = {k: transform_matrix(*v) for k, v in poses.items()}
    np.testing.assert_allclose(buf.lookup("world", "camera1_optical"), m["camera1_link"] @ m["camera1_optical"],
                               atol=1e-12)
    np.testing.assert_allclose(buf.lookup("camera2_link", "camera1_optical"),
                               np.linalg.inv(m["camera2_link"]) @ m["camera1_link"] @ m["camera1_optical"],
                               atol=1e-12)
    np.testing.assert_allclose(buf.lookup("camera1_optical", "world") @ buf.lookup("world", "camera1_optical"),
                               np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(buf.lookup("world", "world"), np.eye(4))


def test_unknown_frames_and_stale_transforms_are_clear_errors():
    buf = TransformBuffer()
    with pytest.raises(TransformLookupError, match="known frames none"):
        buf.lookup("world", "camera1_link")
    buf.set_transform("world", "hand_wrist", [0, 0, 1], [0, 0, 0, 1], stamp=10.0)
    with pytest.raises(TransformLookupError, match="'elsewhere'"):
        buf.lookup("world", "elsewhere")
    assert buf.lookup("world", "hand_wrist", now=10.5, max_age=1.0)[2, 3] == 1.0
    with pytest.raises(TransformLookupError, match="s old"):
        buf.lookup("world", "hand_wrist", now=12.0, max_age=1.0)


def test_latest_wins_and_late_messages_are_ignored():
    buf = TransformBuffer()
    buf.set_transform("world", "hand_wrist", [0, 0, 1], [0, 0, 0, 1], stamp=2.0)
    buf.set_transform("world", "hand_wrist", [0, 0, 5], [0, 0, 0, 1], stamp=1.0)  # older, arrives late
    assert buf.lookup("world", "hand_wrist")[2, 3] == 1.0
    buf.set_transform("world", "hand_wrist", [0, 0, 3], [0, 0, 0, 1], stamp=3.0)
    assert buf.lookup("world", "hand_wrist")[2, 3] == 3.0


def test_bad_transforms_are_rejected():
    buf = TransformBuffer()
    with pytest.raises(ValueError, match="not a rotation"):
        buf.set_transform("world", "a", [0, 0, 0], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="two different"):
        buf.set_transform("world", "world", [0, 0, 0], [0, 0, 0, 1])
