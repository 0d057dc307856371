"""The two-camera rig: camera link and optical frames, and the default layout's poses.

realsense-ros frames: `camera{i}_link` (REP-103: x forward, y left, z up) at the depth sensor's
origin, `camera{i}_depth_frame` (= link) and `camera{i}_color_frame` (where the colour sensor sits,
from the device's depth-to-colour extrinsics, ~15 mm away on a D435; at the link origin in our
synthetic recordings, whose depth is registered to colour), each with its `_optical_frame`
(z forward, x right, y down). The extrinsics YAML stores world <- link; images and intrinsics
live in the colour optical frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexmv_capture.extrinsics import CameraExtrinsics, load_extrinsics

# Rotation link <- optical: optical z (forward) = link x, optical x (right) = -link y, optical y (down) = -link z.
LINK_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
# as a quaternion (x, y, z, w), what realsense-ros publishes for link -> optical
LINK_FROM_OPTICAL_QUAT = (-0.5, 0.5, -0.5, 0.5)


def optical_frame(camera_name: str) -> str:
    return f"{camera_name}_color_optical_frame"


def _transform(rotation: np.ndarray, translation) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rotation, translation
    return out


def camera_frames(camera_name: str, depth_to_color: tuple | None = None) -> list[tuple[str, str, np.ndarray]]:
    """(parent, child, 4x4 parent <- child) of realsense2_camera's static frame tree for one camera.

    depth_to_color: librealsense's extrinsics (row-major 3x3 rotation, translation in metres) taking
    points from the depth optical frame to the colour optical frame; None: the sensors coincide."""
    rotation, translation = np.eye(3), np.zeros(3)
    if depth_to_color is not None:
        rotation = np.asarray(depth_to_color[0], float).reshape(3, 3)
        translation = np.asarray(depth_to_color[1], float)
    # colour optical frame in the depth optical frame: the inverse of the point transform
    depth_optical_from_color_optical = _transform(rotation.T, -rotation.T @ translation)
    optical = _transform(LINK_FROM_OPTICAL, np.zeros(3))
    link_from_color_frame = optical @ depth_optical_from_color_optical @ optical.T
    n = camera_name
    return [(f"{n}_link", f"{n}_depth_frame", np.eye(4)),
            (f"{n}_depth_frame", f"{n}_depth_optical_frame", optical),
            (f"{n}_link", f"{n}_color_frame", link_from_color_frame),
            (f"{n}_color_frame", f"{n}_color_optical_frame", optical)]


def link_from_color_optical(depth_to_color: tuple | None = None) -> np.ndarray:
    """4x4 link <- colour optical frame (the chain of camera_frames)."""
    frames = {child: pose for _, child, pose in camera_frames("c", depth_to_color)}
    return frames["c_color_frame"] @ frames["c_color_optical_frame"]


def optical_pose(camera: CameraExtrinsics) -> np.ndarray:
    """4x4 world <- colour optical frame (the colour sensor at the link origin, as in our recordings)."""
    pose = camera.matrix()
    pose[:3, :3] = pose[:3, :3] @ LINK_FROM_OPTICAL
    return pose


def default_extrinsics_file() -> Path:
    """The packaged nominal layout (config/default_extrinsics.yaml), installed or in the source tree."""
    source = Path(__file__).resolve().parents[1] / "config" / "default_extrinsics.yaml"
    if source.is_file():
        return source
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("dexmv_capture")) / "config" / "default_extrinsics.yaml"


def default_rig() -> list[CameraExtrinsics]:
    return load_extrinsics(default_extrinsics_file())


def look_at_quaternion(position, target) -> list[float]:
    """Quaternion (x, y, z, w) of a link frame at `position` whose x axis points at `target`, z up-ish."""
    from scipy.spatial.transform import Rotation

    x = np.asarray(target, float) - np.asarray(position, float)
    x /= np.linalg.norm(x)
    y = np.cross([0.0, 0.0, 1.0], x)
    y /= np.linalg.norm(y)
    return list(Rotation.from_matrix(np.column_stack([x, y, np.cross(x, y)])).as_quat())
