"""The two-camera rig: camera link and optical frames, and the default layout's poses.

realsense-ros frames: `camera{i}_link` (REP-103: x forward, y left, z up) and
`camera{i}_color_optical_frame` (z forward, x right, y down). The extrinsics YAML stores
world <- link; images and intrinsics live in the optical frame.
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
