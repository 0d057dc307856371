"""A synthetic recording's ground truth agrees with its images: keypoints projected through the intrinsics
read back from the recording (pyrealsense2) and the sidecar's extrinsics land on the rendered hand."""

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from dexmv_capture.extrinsics import load_extrinsics
from dexmv_capture.recording import RecordingReader
from dexmv_capture.rig import optical_pose
from dexmv_capture.synthetic.hand_motion import task_motion
from dexmv_capture.synthetic.scene import SyntheticScene
from dexmv_capture.synthetic.synthesize import load_ground_truth, synthesize

DILATE_PX = 3


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    # a side grasp of the mug: the object hides part of the hand in at least one view
    return synthesize("relocate-mug", 2.0, 2, tmp_path_factory.mktemp("synth"), fps=5.0, pace=False)


def _keypoint_hits(keypoints_world, world_from_optical, intrinsics, scene, camera):
    """(on hand, hidden by an object, inside the image) per keypoint of the current frame.

    A keypoint off the hand mask is hidden when the surface seen at its pixel is nearer than the
    keypoint itself (an object in front of the finger); a surface behind it means the hand should
    have been rendered there and was not.
    """
    local = (keypoints_world - world_from_optical[:3, 3]) @ world_from_optical[:3, :3]
    px = np.round(intrinsics.project(local)).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < intrinsics.width) & (px[:, 1] >= 0) & (px[:, 1] < intrinsics.height)
    mask = binary_dilation(scene.hand_mask(camera), iterations=DILATE_PX)
    depth = scene.render_depth(camera)
    u, v = np.clip(px[:, 0], 0, intrinsics.width - 1), np.clip(px[:, 1], 0, intrinsics.height - 1)
    on_hand = inside & mask[v, u]
    hidden = inside & ~mask[v, u] & (depth[v, u] < local[:, 2])
    return on_hand, hidden, inside


def test_projected_keypoints_land_on_the_rendered_hand(recording):
    arrays, meta = load_ground_truth(recording.ground_truth)
    rig = {c.camera_name: optical_pose(c) for c in load_extrinsics(recording.extrinsics)}
    motion = task_motion(meta["task"], meta["seed"], meta["frames"] / meta["fps"], meta["fps"])
    np.testing.assert_allclose(motion.keypoints, arrays["keypoints_world"])
    scene = SyntheticScene(motion, rig, _recorded_intrinsics(recording, "camera1"))
    counts = {"on_hand": 0, "hidden": 0, "visible": 0, "shifted_on_hand": 0}
    try:
        for camera in rig:
            intrinsics = _recorded_intrinsics(recording, camera)
            with RecordingReader(recording.recordings[camera]) as reader:
                frames = list(reader)
            assert len(frames) == meta["frames"]
            for t, frame in enumerate(frames):
                scene.set_frame(t)
                # the scene rendered now is the one in the recording (RGB8 is stored losslessly)
                np.testing.assert_array_equal(frame.color, scene.render_color(camera))
                on_hand, hidden, inside = _keypoint_hits(arrays["keypoints_world"][t], rig[camera], intrinsics, scene,
                                                         camera)
                visible = inside & ~hidden
                assert np.all(on_hand[visible]), (camera, t, np.flatnonzero(visible & ~on_hand))
                counts["on_hand"] += int(on_hand.sum())
                counts["hidden"] += int(hidden.sum())
                counts["visible"] += int(visible.sum())
                # control: the same check with the principal point 25 px off must miss the hand often
                shifted = type(intrinsics)(intrinsics.width, intrinsics.height, intrinsics.fx, intrinsics.fy,
                                           intrinsics.ppx + 25.0, intrinsics.ppy)
                counts["shifted_on_hand"] += int(_keypoint_hits(arrays["keypoints_world"][t], rig[camera], shifted,
                                                                scene, camera)[0].sum())
    finally:
        scene.close()
    total = 2 * meta["frames"] * 21
    assert counts["visible"] > 0.8 * total  # the check covered most keypoints ...
    assert counts["hidden"] > 0  # ... and some really were behind the mug
    assert counts["shifted_on_hand"] < 0.8 * counts["on_hand"]  # a wrong projection is caught


def _recorded_intrinsics(recording, camera):
    with RecordingReader(recording.recordings[camera]) as reader:
        return reader.info.stream("color").intrinsics
