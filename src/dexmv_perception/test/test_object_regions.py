"""Working on a region of the depth images: the pixels a sphere can cover, the points and the hand
mask's narrowing inside a box, and the tracker's updates around its objects (same poses as on the
whole scene)."""

from __future__ import annotations

import numpy as np
import pytest

from dexmv_perception.objects import DepthView
from dexmv_perception.objects.segmentation import narrow_hand_mask

K = np.array([[600.0, 0.0, 321.3], [0.0, 610.0, 239.7], [0.0, 0.0, 1.0]])


def _camera(rng: np.random.Generator) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    pose = np.eye(4)
    pose[:3, :3] = Rotation.random(random_state=rng.integers(2**31)).as_matrix()
    pose[:3, 3] = rng.uniform(-1.0, 1.0, 3)
    return pose


def _pixels(view: DepthView, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    local = (points - view.T_world_camera[:3, 3]) @ view.T_world_camera[:3, :3]
    z = local[:, 2]
    return K[0, 0] * local[:, 0] / z + K[0, 2], K[1, 1] * local[:, 1] / z + K[1, 2], z


def test_a_sphere_lies_inside_its_box():
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(200):
        view = DepthView(np.zeros((480, 640), np.float32), K, _camera(rng))
        centre_local = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.5, 0.5), rng.uniform(0.2, 1.5)])
        radius = rng.uniform(0.01, 0.15)
        centre = view.T_world_camera[:3, :3] @ centre_local + view.T_world_camera[:3, 3]
        box = view.sphere_box(centre, radius)
        if centre_local[2] - radius < 0.05:
            assert box is None
            continue
        directions = rng.normal(size=(3000, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        points = centre + directions * radius * rng.uniform(0.0, 1.0, (3000, 1)) ** (1 / 3)
        u, v, _ = _pixels(view, points)
        seen = (u >= 0) & (u < 640) & (v >= 0) & (v < 480)
        v0, v1, u0, u1 = box
        inside = (u >= u0) & (u < u1) & (v >= v0) & (v < v1)
        assert np.all(inside[seen]), f"sphere {centre_local}, r {radius:.3f}: box {box}"
        checked += int(seen.any())
        if seen.all() and u0 > 0 and u1 < 640 and v0 > 0 and v1 < 480:
            # and not much larger than the sphere's image (a bound, not the exact ellipse)
            assert u1 - u0 <= 1.6 * (u.max() - u.min()) + 4 and v1 - v0 <= 1.6 * (v.max() - v.min()) + 4
    assert checked > 50
    view = DepthView(np.zeros((480, 640), np.float32), K, np.eye(4))
    assert view.sphere_box(np.array([0.0, 0.0, 0.08]), 0.05) is None  # reaches the camera's plane
    v0, v1, u0, u1 = view.sphere_box(np.array([5.0, 0.0, 1.0]), 0.05)  # far to the side: empty
    assert u1 <= u0


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_points_in_a_box_are_the_whole_images_points_there(stride):
    rng = np.random.default_rng(stride)
    depth = rng.uniform(0.3, 2.5, (480, 640)).astype(np.float32)
    depth[rng.random((480, 640)) < 0.1] = 0.0
    mask = rng.random((480, 640)) < 0.2
    view = DepthView(depth, K, _camera(rng), mask)
    whole = view.points_world(stride=stride, max_m=2.0)
    u, v, _ = _pixels(view, whole)
    u, v = np.round(u).astype(int), np.round(v).astype(int)
    for box in [(101, 250, 37, 333), (0, 480, 0, 640), (479, 480, 639, 640), (200, 200, 10, 50)]:
        v0, v1, u0, u1 = box
        expected = whole[(v >= v0) & (v < v1) & (u >= u0) & (u < u1)]
        got = view.points_world(stride=stride, max_m=2.0, box=box)
        assert got.shape == expected.shape and np.allclose(got, expected), box


def test_the_hand_mask_narrowed_in_a_box_is_the_whole_narrowing_there():
    rng = np.random.default_rng(3)
    camera = np.eye(4)
    depth = np.full((480, 640), 0.7, np.float32)
    depth[rng.random((480, 640)) < 0.05] = 0.0
    # a hand's keypoints in front of the camera: a line of bones across the middle of the image
    keypoints = np.full((21, 3), np.nan)
    keypoints[0] = [-0.10, 0.0, 0.7]
    for k, x in zip(range(1, 21), np.linspace(-0.08, 0.08, 20), strict=True):
        keypoints[k] = [x, 0.01 * np.sin(7 * x), 0.7]
    mask = np.zeros((480, 640), bool)
    mask[150:330, 60:600] = True  # a grown hull: the hand and the table around it
    view = DepthView(depth, K, camera, mask)
    whole = narrow_hand_mask(view, keypoints, 0.025, 0.07, 0.25).mask_exclude
    assert 0 < whole.sum() < mask.sum()
    for box in [(101, 251, 37, 333), (160, 320, 301, 640), (0, 480, 0, 640)]:
        v0, v1, u0, u1 = box
        narrowed = narrow_hand_mask(view, keypoints, 0.025, 0.07, 0.25, box=box).mask_exclude
        assert np.array_equal(narrowed[v0:v1, u0:u1], whole[v0:v1, u0:u1]), box
        outside = np.ones_like(mask)
        outside[v0 - v0 % 2:v1, u0 - u0 % 2:u1] = False
        assert np.array_equal(narrowed[outside], mask[outside]), box  # left as it was
    assert view.mask_exclude is mask and mask.sum() == 180 * 540  # the view itself is not changed
