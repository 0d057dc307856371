"""Object point models follow the simulation's geometry; declared symmetries are the shapes' own."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from dexmv_perception.objects import object_point_model, object_symmetry, rotation_error_deg
from dexmv_perception.objects.depth_view import DepthView, DepthViewError
from dexmv_perception.objects.segmentation import fit_table_plane, points_near_segments
from dexmv_perception.objects.symmetry import spin_axis, spin_feature
from dexmv_sim.objects import OBJECT_IDS, object_bounds

HALF_TURNS = {"x": np.diag([1.0, -1.0, -1.0]), "y": np.diag([-1.0, 1.0, -1.0]), "z": np.diag([-1.0, -1.0, 1.0])}


@pytest.mark.parametrize("object_id", OBJECT_IDS)
def test_point_model_covers_the_sim_object(object_id):
    model = object_point_model(object_id)
    lo, hi = object_bounds(object_id)
    # visual details (labels, a stem) may stick out a little beyond the collision shapes, never fall short
    assert np.all(model.points.min(axis=0) <= lo + 0.0015)
    assert np.all(model.points.max(axis=0) >= hi - 0.0015)
    assert np.all(model.points.min(axis=0) >= lo - 0.015) and np.all(model.points.max(axis=0) <= hi + 0.015)
    normals = np.linalg.norm(model.normals, axis=1)
    np.testing.assert_allclose(normals, 1.0, atol=1e-6)
    assert 500 < len(model.points) < 20000


def test_point_model_scales_with_the_object():
    small, big = object_point_model("025_mug", 1.0), object_point_model("025_mug", 2.0)
    np.testing.assert_allclose(big.half_extent, 2.0 * small.half_extent, atol=0.002)


@pytest.mark.parametrize("object_id", OBJECT_IDS)
def test_declared_symmetries_are_the_shapes_own(object_id):
    model = object_point_model(object_id)
    tree = cKDTree(model.points)
    sym = object_symmetry(object_id)
    for rot in sym.equivalent_rotations(np.eye(3), samples=12):
        dist, _ = tree.query(model.points @ rot.T)
        assert np.percentile(dist, 99.5) < 0.004, f"{object_id}: a declared symmetry moves the surface"
    # and every half-turn that is not declared really changes the shape
    for axis, rot in HALF_TURNS.items():
        if rotation_error_deg(rot, np.eye(3), object_id) < 1.0:
            continue
        dist, _ = tree.query(model.points @ rot.T)
        assert dist.max() > 0.006, f"{object_id} looks symmetric under a half turn about {axis}: declare it"


@pytest.mark.parametrize("object_id", OBJECT_IDS)
def test_a_spin_axis_is_a_symmetry_but_for_a_small_feature(object_id):
    """Quarter and half turns about a declared spin axis (the mug's, through its cavity) keep all but
    a small feature (the handle) on the surface: an axis through the wrong point would move most of
    the body off it (the mug's bounding-box centre is 12 mm off its axis), and a shape without such a
    feature has a symmetry to declare instead."""
    axis = spin_axis(object_id)
    if axis is None:
        return
    model = object_point_model(object_id)
    feature = spin_feature(model.points, *axis, tolerance_m=0.012)
    assert 0.005 < feature.mean() < 0.1, f"{object_id}: {feature.mean():.3f} of the surface moves off it"
    # the feature stands out from the body: beyond the body's radius from the axis
    radial = np.linalg.norm(np.cross(model.points - axis[1], axis[0]), axis=1)
    assert radial[feature].min() > np.percentile(radial[~feature], 90), f"{object_id}: the feature is inside the body"
    off_axis = spin_feature(model.points, axis[0], axis[1] + [0.012, 0.0, 0.0], tolerance_m=0.012)
    assert off_axis.mean() > 0.3, f"{object_id}: the test cannot tell the axis's place ({off_axis.mean():.2f})"


def test_rotation_error_knows_each_symmetry():
    tilt = Rotation.from_rotvec([0.0, np.radians(10.0), 0.0]).as_matrix()
    spin = Rotation.from_rotvec([0.0, 0.0, 1.3]).as_matrix()
    upside_down = HALF_TURNS["x"]
    assert rotation_error_deg(spin, np.eye(3), "005_tomato_soup_can") == pytest.approx(0.0, abs=1e-6)
    assert rotation_error_deg(upside_down, np.eye(3), "005_tomato_soup_can") == pytest.approx(0.0, abs=1e-6)
    assert rotation_error_deg(tilt @ spin, np.eye(3), "005_tomato_soup_can") == pytest.approx(10.0, abs=1e-6)
    assert rotation_error_deg(spin, np.eye(3), "025_mug") == pytest.approx(np.degrees(1.3), abs=1e-6)
    assert rotation_error_deg(HALF_TURNS["z"], np.eye(3), "004_sugar_box") == pytest.approx(0.0, abs=1e-6)
    quarter = Rotation.from_rotvec([0.0, 0.0, np.pi / 2]).as_matrix()
    assert rotation_error_deg(quarter, np.eye(3), "004_sugar_box") == pytest.approx(90.0, abs=1e-6)
    assert rotation_error_deg(HALF_TURNS["y"], np.eye(3), "051_large_clamp") == pytest.approx(0.0, abs=1e-6)
    assert rotation_error_deg(HALF_TURNS["z"], np.eye(3), "051_large_clamp") == pytest.approx(180.0, abs=1e-6)
    # the error is the same whichever frame both rotations are expressed in
    world = Rotation.from_rotvec([0.3, -0.8, 0.5]).as_matrix()
    assert rotation_error_deg(world @ tilt, world, "006_mustard_bottle") == pytest.approx(10.0, abs=1e-6)


def test_the_upright_equivalent_points_the_model_z_up():
    """A symmetric object perceived upside down (or on its other face) is turned upright by one of its
    own symmetries; an object without symmetries is left as it is."""
    from dexmv_perception.objects.symmetry import upright_equivalent

    yaw = Rotation.from_rotvec([0.0, 0.0, 0.7]).as_matrix()
    for object_id, flipped in (("051_large_clamp", yaw @ HALF_TURNS["y"]), ("004_sugar_box", yaw @ HALF_TURNS["x"]),
                               ("005_tomato_soup_can", yaw @ HALF_TURNS["x"])):
        turn = upright_equivalent(flipped, object_id)
        assert (flipped @ turn)[2, 2] == pytest.approx(1.0, abs=1e-9), object_id
        assert rotation_error_deg(flipped @ turn, flipped, object_id) == pytest.approx(0.0, abs=1e-4)  # same shape
    already_upright = yaw @ HALF_TURNS["y"] @ HALF_TURNS["y"]
    np.testing.assert_allclose(upright_equivalent(already_upright, "051_large_clamp"), np.eye(3))
    np.testing.assert_allclose(upright_equivalent(HALF_TURNS["x"], "025_mug"), np.eye(3))  # no symmetry: no turn
    # the clamp upright keeps its yaw: the turn is about y, never about z
    upright = yaw @ HALF_TURNS["y"] @ upright_equivalent(yaw @ HALF_TURNS["y"], "051_large_clamp")
    np.testing.assert_allclose(upright, yaw, atol=1e-12)


def test_table_plane_and_hand_neighbourhood():
    rng = np.random.default_rng(0)
    # a table 8 mm high and tilted 2 degrees (a calibration a little off), plus clutter above it
    normal = Rotation.from_rotvec([np.radians(2.0), 0.0, 0.0]).apply([0.0, 0.0, 1.0])
    xy = rng.uniform(-0.4, 0.4, (5000, 2))
    table = np.column_stack([xy, (0.008 - normal[0] * xy[:, 0] - normal[1] * xy[:, 1]) / normal[2]])
    table += rng.normal(0.0, 0.001, table.shape)
    clutter = rng.uniform([-0.1, -0.1, 0.02], [0.1, 0.1, 0.2], (1500, 3))
    plane = fit_table_plane(np.concatenate([table, clutter]), np.random.default_rng(1))
    assert plane is not None
    assert np.degrees(np.arccos(plane.normal @ normal)) < 0.5
    assert abs(plane.height(np.array([[0.0, 0.0, 0.008]]))[0]) < 0.001
    assert fit_table_plane(clutter, np.random.default_rng(1)) is None
    keypoints = np.zeros((21, 3))
    keypoints[:, 0] = np.linspace(0.0, 0.2, 21)
    near = points_near_segments(np.array([[0.1, 0.01, 0.0], [0.1, 0.05, 0.0]]), keypoints, 0.02)
    assert near.tolist() == [True, False]


def test_points_near_segments_matches_the_distance_to_every_bone(monkeypatch):
    """The vectorised search (a box around the bones, every bone at once in float32 about the box's
    centre, in blocks of points) gives what the distance to the nearest bone says, with unknown
    keypoints' bones left out, wherever in the room the hand is and whatever the block size."""
    from dexmv_perception.objects import segmentation
    from dexmv_perception.objects.segmentation import HAND_BONES

    rng = np.random.default_rng(3)
    for offset in (np.zeros(3), np.array([0.4, -0.3, 0.8])):
        keypoints = rng.uniform(-0.08, 0.08, (21, 3)) + offset
        keypoints[7] = np.nan
        points = rng.uniform(-0.15, 0.15, (4000, 3)) + offset
        dist = np.full(len(points), np.inf)
        for i, j in HAND_BONES:
            a, b = keypoints[i], keypoints[j]
            if not (np.isfinite(a).all() and np.isfinite(b).all()):
                continue
            t = np.clip((points - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
            dist = np.minimum(dist, np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1))
        clear = np.abs(dist - 0.02) > 1e-6  # float32 decides points a micrometre from the surface either way
        assert clear.mean() > 0.99
        near = points_near_segments(points, keypoints, 0.02)
        assert 0 < near.sum() < len(points)
        assert np.array_equal(near[clear], (dist < 0.02)[clear])
        monkeypatch.setattr(segmentation, "_NEAR_CHUNK", 300)
        assert np.array_equal(points_near_segments(points, keypoints, 0.02), near)
        monkeypatch.undo()
    assert not points_near_segments(points, np.full((21, 3), np.nan), 0.02).any()
    assert not points_near_segments(np.zeros((0, 3)), keypoints, 0.02).any()


def test_depth_view_checks_its_inputs():
    depth = np.full((4, 6), 0.5, np.float32)
    view = DepthView(depth, np.array([[100.0, 0, 3], [0, 100.0, 2], [0, 0, 1]]), np.eye(4))
    assert view.points_world().shape == (24, 3)
    with pytest.raises(DepthViewError, match="K"):
        DepthView(depth, np.eye(2), np.eye(4))
    with pytest.raises(DepthViewError, match="rotation"):
        DepthView(depth, np.eye(3), np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(DepthViewError, match="mask_exclude"):
        DepthView(depth, np.eye(3), np.eye(4), np.zeros((3, 3), bool))
