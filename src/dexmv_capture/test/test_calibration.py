"""ChArUco calibration on rendered board views recovers the rig's known extrinsics."""

import numpy as np
from scipy.spatial.transform import Rotation

from dexmv_capture.calibration import BoardSpec, camera_extrinsics, detect_board, render_board_view, world_from_board
from dexmv_capture.d435 import D435_COLOR_640x480
from dexmv_capture.rig import default_rig, optical_pose


def test_rendered_views_give_the_known_extrinsics_within_3mm_and_half_a_degree():
    spec = BoardSpec()
    board_pose = world_from_board((0.02, -0.05), yaw_deg=10.0, spec=spec)
    rng = np.random.default_rng(0)
    for truth in default_rig():
        optical_from_board = np.linalg.inv(optical_pose(truth)) @ board_pose
        image = render_board_view(spec, D435_COLOR_640x480, optical_from_board).astype(float)
        image = np.clip(image + rng.normal(0.0, 2.0, image.shape), 0, 255).astype(np.uint8)  # sensor noise
        view = detect_board(image, D435_COLOR_640x480, spec)
        assert view is not None, truth.camera_name
        est = camera_extrinsics(truth.camera_name, [view], board_pose)
        assert np.linalg.norm(est.translation - truth.translation) < 0.003
        angle = (Rotation.from_quat(est.rotation) * Rotation.from_quat(truth.rotation).inv()).magnitude()
        assert np.degrees(angle) < 0.5
        assert est.child_frame_id == f"{truth.camera_name}_link" and est.extra["rms_reprojection_px"] < 1.0


def test_no_board_no_pose():
    blank = np.full((480, 640, 3), 120, np.uint8)
    assert detect_board(blank, D435_COLOR_640x480, BoardSpec()) is None


def test_the_link_sits_at_the_depth_sensor_as_in_realsense_ros():
    """A D435's colour sensor is ~15 mm from its depth sensor: calibration from colour images must put
    the link (depth origin) where camera_node's /tf_static chain link -> colour optical expects it."""
    from dexmv_capture.rig import camera_frames, link_from_color_optical

    depth_to_color = ([1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], [0.015, 0.0, 0.0])  # colour 15 mm along depth optical -x
    frames = {child: (parent, pose) for parent, child, pose in camera_frames("camera1", depth_to_color)}
    assert set(frames) == {"camera1_depth_frame", "camera1_depth_optical_frame", "camera1_color_frame",
                           "camera1_color_optical_frame"}
    parent, color_frame = frames["camera1_color_frame"]
    # p_color = p_depth + t: the colour origin is at -t in depth optical = +15 mm along link y (left)
    assert parent == "camera1_link" and np.allclose(color_frame[:3, 3], [0.0, 0.015, 0.0])
    spec = BoardSpec()
    board_pose = world_from_board((0.0, 0.0), 0.0, spec)
    truth = default_rig()[0]
    world_optical = truth.matrix() @ link_from_color_optical(depth_to_color)
    image = render_board_view(spec, D435_COLOR_640x480, np.linalg.inv(world_optical) @ board_pose)
    view = detect_board(image, D435_COLOR_640x480, spec)
    est = camera_extrinsics("camera1", [view], board_pose, link_from_optical=link_from_color_optical(depth_to_color))
    assert np.linalg.norm(est.translation - truth.translation) < 0.003
    naive = camera_extrinsics("camera1", [view], board_pose)  # colour at the link: 15 mm off
    assert np.linalg.norm(naive.translation - truth.translation) > 0.01


def test_calibrate_holds_only_the_frames_it_uses(damaged_recordings):
    """`dexmv calibrate --frames N` keeps N frames spread over the recording, not the whole file."""
    from dexmv_capture.cli.calibrate import _picked_frames

    intr, depth_to_color, frames = _picked_frames(str(damaged_recordings["intact"]), 4)
    assert [f.frame_number for f in frames] == [0, 20, 39, 59] and intr.width == 160
    assert depth_to_color[1] == (0.0, 0.0, 0.0)
