"""Extrinsics YAML: round trip, the packaged default, and errors that name the file and entry."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexmv_capture.extrinsics import CameraExtrinsics, ExtrinsicsError, load_extrinsics, save_extrinsics

DEFAULT = Path(__file__).parents[1] / "config" / "default_extrinsics.yaml"


def test_default_layout_sees_the_whole_hand_of_every_task():
    from dexmv_capture.d435 import D435_COLOR_640x480 as K
    from dexmv_capture.rig import optical_pose
    from dexmv_capture.synthetic.hand_motion import TASKS, task_motion

    cameras = {c.camera_name: c for c in load_extrinsics(DEFAULT)}
    assert set(cameras) == {"camera1", "camera2"}
    # top-front (camera1 across the table at +y) and top-left (camera2 at the person's left, -x)
    assert cameras["camera1"].translation[1] > 0.5 and cameras["camera2"].translation[0] < -0.5
    keypoints = np.concatenate([task_motion(task, seed, 6.0, 5.0).keypoints for task in TASKS for seed in range(3)])
    for cam in cameras.values():
        assert cam.parent_frame_id == "world" and cam.child_frame_id == f"{cam.camera_name}_link"
        assert cam.translation[2] > 0.4 and cam.matrix()[2, 0] < -0.3  # above the table, looking down
        pose = optical_pose(cam)
        local = (keypoints - pose[:3, 3]) @ pose[:3, :3]
        px = K.project(local)
        inside = (local[..., 2] > 0) & np.all((px > 10) & (px < [K.width - 10, K.height - 10]), axis=-1)
        assert inside.all(axis=1).mean() > 0.99, f"{cam.camera_name} loses the hand"


def test_round_trip_keeps_poses_and_metadata(tmp_path):
    rot = Rotation.from_euler("xyz", [0.1, -0.4, 2.0])
    cam = CameraExtrinsics("camera7", "world", "camera7_link", np.array([0.3, -0.2, 0.9]), rot.as_quat(),
                           extra={"rms_reprojection_px": 0.31, "serial_no": "123456789012"})
    save_extrinsics(tmp_path / "x.yaml", [cam])
    (back,) = load_extrinsics(tmp_path / "x.yaml")
    np.testing.assert_allclose(back.matrix(), cam.matrix(), atol=1e-12)
    assert back.extra == cam.extra and back.child_frame_id == "camera7_link"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("cameras: {}\n", "non-empty `cameras:`"),
        ("cameras:\n  camera1:\n    translation: [0, 0]\n    rotation: [0, 0, 0, 1]\n", "cameras.camera1.translation"),
        ("cameras:\n  camera1:\n    translation: [0, 0, 1]\n    rotation: [0, 0, 0, 2]\n", "not a unit quaternion"),
        ("cameras:\n  camera1:\n    translation: [0, .nan, 1]\n    rotation: [0, 0, 0, 1]\n", "finite numbers"),
        ("cameras: [\n", "not valid YAML"),
    ],
)
def test_bad_files_are_named_in_the_error(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExtrinsicsError, match=needle) as err:
        load_extrinsics(path)
    assert str(path) in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ExtrinsicsError, match="no such extrinsics file"):
        load_extrinsics(tmp_path / "nope.yaml")
