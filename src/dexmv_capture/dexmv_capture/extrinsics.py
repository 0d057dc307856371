"""Camera extrinsics: where each camera sits in the `world` (table) frame, read from and written to YAML.

The file is what calibration produces and what the extrinsics publisher puts on /tf_static, so
its errors name the file and the entry: a typo here silently moves a camera otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation


class ExtrinsicsError(ValueError):
    """A malformed extrinsics file; the message names the file and the entry."""


_CAMERA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def check_camera_name(name: str, where: str = "camera name") -> str:
    """A camera name becomes a node name, topic prefix, frame prefix and file name: a ROS name token only
    (letter, then letters, digits, underscores), so `../x` or `a/b` can never escape a folder or a namespace."""
    if not isinstance(name, str) or not _CAMERA_NAME.fullmatch(name):
        raise ExtrinsicsError(f"{where} {name!r}: use a letter, then letters, digits or underscores (e.g. camera1)")
    return name


@dataclass(frozen=True)
class CameraExtrinsics:
    """Pose of `child_frame_id` (a camera's link frame) in `parent_frame_id`."""

    camera_name: str
    parent_frame_id: str
    child_frame_id: str
    translation: np.ndarray  # (3,) metres
    rotation: np.ndarray  # (4,) unit quaternion x, y, z, w
    extra: dict = field(default_factory=dict)  # calibration metadata kept on a round trip

    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform parent <- child."""
        out = np.eye(4)
        out[:3, :3] = Rotation.from_quat(self.rotation).as_matrix()
        out[:3, 3] = self.translation
        return out


def _vector(path: Path, camera: str, key: str, value: object, size: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise ExtrinsicsError(f"{path}: cameras.{camera}.{key} must be a list of {size} finite numbers, got {value!r}")
    return arr


def load_extrinsics(path: str | Path) -> list[CameraExtrinsics]:
    """Read an extrinsics YAML file (format: config/default_extrinsics.yaml)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ExtrinsicsError(f"{path}: no such extrinsics file") from None
    except yaml.YAMLError as err:
        raise ExtrinsicsError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cameras"), dict) or not doc["cameras"]:
        raise ExtrinsicsError(f"{path}: expected a mapping with a non-empty `cameras:` section")
    parent = str(doc.get("frame_id", "world"))
    cameras = []
    for name, entry in doc["cameras"].items():
        check_camera_name(name, f"{path}: cameras entry")
        if not isinstance(entry, dict):
            raise ExtrinsicsError(f"{path}: cameras.{name} must be a mapping")
        translation = _vector(path, name, "translation", entry.get("translation"), 3)
        rotation = _vector(path, name, "rotation", entry.get("rotation"), 4)
        norm = np.linalg.norm(rotation)
        if abs(norm - 1.0) > 1e-3:
            raise ExtrinsicsError(f"{path}: cameras.{name}.rotation is not a unit quaternion (norm {norm:.4f})")
        extra = {k: v for k, v in entry.items() if k not in ("child_frame_id", "translation", "rotation")}
        cameras.append(CameraExtrinsics(
            camera_name=str(name),
            parent_frame_id=parent,
            child_frame_id=str(entry.get("child_frame_id", f"{name}_link")),
            translation=translation,
            rotation=rotation / norm,
            extra=extra,
        ))
    return cameras


def save_extrinsics(path: str | Path, cameras: list[CameraExtrinsics]) -> None:
    """Write cameras in the format load_extrinsics reads (all must share one parent frame)."""
    parents = {c.parent_frame_id for c in cameras}
    if len(parents) != 1:
        raise ExtrinsicsError(f"{path}: cameras have different parent frames {sorted(parents)}")
    doc = {
        "frame_id": parents.pop(),
        "cameras": {
            c.camera_name: {
                "child_frame_id": c.child_frame_id,
                "translation": [float(v) for v in c.translation],
                "rotation": [float(v) for v in c.rotation],
                **c.extra,
            }
            for c in cameras
        },
    }
    Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))
