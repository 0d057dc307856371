"""Perceived human hand and object trajectories: one type, whatever the source.

Every source becomes a `HumanTrajectory` through `HumanTrajectory.from_arrays`, which checks it:
- `poses.npz` written by perception: `keypoints` (T,21,3) world metres (NaN missing), `confidence`
  (T,21), `stamps` (T,) s, `frame` ("world"), `object_ids` (K,), `object_poses` (T,K,7) xyz + quat
  xyzw (NaN unknown), `object_confidence` (T,K);
- a synthetic recording's `ground_truth.npz` (dexmv_capture): the same arrays made from its
  keypoints and object poses, confidence 1 (say so: it is not perception's output);
- a rosbag2 directory: `/dexmv/hand_pose` (HandPose, frame `world`) and `/dexmv/object_poses`
  (ObjectPoseArray), objects matched to the hand frames by nearest stamp (bag_reader.py).
A recording directory uses its `poses.npz` when perception wrote one, else its ground truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

MAX_DISTANCE_M = 3.0  # a keypoint or object farther than this from the world origin is implausible


class TrajectoryInputError(ValueError):
    """An input that is not a usable hand/object trajectory; the message names the file."""


@dataclass
class HumanTrajectory:
    keypoints: np.ndarray  # (T, 21, 3) world, NaN missing
    confidence: np.ndarray  # (T, 21)
    stamps: np.ndarray  # (T,) seconds, increasing
    object_ids: list[str]  # (K,)
    object_poses: np.ndarray  # (T, K, 7) xyz + quaternion xyzw, NaN unknown
    object_confidence: np.ndarray  # (T, K)
    source: str  # "perception", "ground_truth", "bag"
    path: str = ""
    meta: dict = field(default_factory=dict)  # what the source says besides (task, seed, ...)

    @property
    def frames(self) -> int:
        return len(self.stamps)

    @property
    def fps(self) -> float:
        return float((len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0]))

    @classmethod
    def from_arrays(cls, *, keypoints, confidence, stamps, object_ids, object_poses, object_confidence,
                    source: str, path: str = "", frame: str = "world", meta: dict | None = None) -> HumanTrajectory:
        where = path or source
        if frame != "world":
            raise TrajectoryInputError(f"{where}: keypoints are in frame '{frame}'; demonstrations need them in "
                                       "'world' (the table frame), hand-relative poses carry no arm motion")
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.ndim != 3 or kp.shape[1:] != (21, 3):
            raise TrajectoryInputError(f"{where}: keypoints must be (T, 21, 3), got {kp.shape}")
        t = kp.shape[0]
        if t < 2:
            raise TrajectoryInputError(f"{where}: need at least 2 frames, got {t}")
        conf = np.ones((t, 21)) if confidence is None else np.asarray(confidence, dtype=np.float64)
        stamps = np.asarray(stamps, dtype=np.float64).ravel()
        if conf.shape != (t, 21):
            raise TrajectoryInputError(f"{where}: confidence must be ({t}, 21), got {conf.shape}")
        if stamps.shape != (t,) or not np.all(np.isfinite(stamps)) or np.any(np.diff(stamps) <= 0):
            raise TrajectoryInputError(f"{where}: stamps must be {t} finite, strictly increasing seconds")
        ids = [str(i) for i in np.asarray(object_ids).ravel()]
        poses = np.asarray(object_poses, dtype=np.float64).reshape(t, len(ids), 7)
        oconf = np.ones((t, len(ids))) if object_confidence is None else \
            np.asarray(object_confidence, dtype=np.float64).reshape(t, len(ids))
        far = np.nanmax(np.linalg.norm(kp, axis=-1)) if np.isfinite(kp).any() else 0.0
        if far > MAX_DISTANCE_M:
            raise TrajectoryInputError(f"{where}: a hand keypoint is {far:.1f} m from the world origin: not a "
                                       "hand on the table (wrong units or frame?)")
        if poses.size and np.isfinite(poses[..., :3]).any():
            ofar = np.nanmax(np.linalg.norm(poses[..., :3], axis=-1))
            if ofar > MAX_DISTANCE_M:
                raise TrajectoryInputError(f"{where}: an object is {ofar:.1f} m from the world origin "
                                           "(wrong units or frame?)")
        return cls(kp, conf, stamps, ids, poses, oconf, source, str(path), dict(meta or {}))

    def with_objects(self, object_ids: list[str]) -> HumanTrajectory:
        """This trajectory with only the tracks of `object_ids`, in that order."""
        cols = [self.object_index(o) for o in object_ids]
        return replace(self, object_ids=list(object_ids), object_poses=self.object_poses[:, cols],
                       object_confidence=self.object_confidence[:, cols])

    def object_index(self, object_id: str) -> int:
        if object_id not in self.object_ids:
            raise TrajectoryInputError(f"{self.path or self.source}: no poses of {object_id} "
                                       f"(objects: {', '.join(self.object_ids) or 'none'})")
        return self.object_ids.index(object_id)


def matrix_to_pose7(poses: np.ndarray) -> np.ndarray:
    """(..., 4, 4) -> (..., 7) xyz + quaternion xyzw."""
    from scipy.spatial.transform import Rotation

    poses = np.asarray(poses, dtype=np.float64)
    flat = poses.reshape(-1, 4, 4)
    quat = Rotation.from_matrix(flat[:, :3, :3]).as_quat()
    return np.concatenate([flat[:, :3, 3], quat], axis=1).reshape(*poses.shape[:-2], 7)


def read_poses_npz(path: str | Path) -> HumanTrajectory:
    path = Path(path)
    with _open_npz(path) as data:
        need = ("keypoints", "stamps")
        missing = [k for k in need if k not in data.files]
        if missing:
            raise TrajectoryInputError(f"{path}: poses file without {', '.join(missing)} (has {data.files})")
        k = int(data["object_ids"].size) if "object_ids" in data.files else 0
        t = int(data["keypoints"].shape[0])
        return HumanTrajectory.from_arrays(
            keypoints=data["keypoints"], confidence=data["confidence"] if "confidence" in data.files else None,
            stamps=data["stamps"], object_ids=data["object_ids"] if k else [],
            object_poses=data["object_poses"] if k else np.zeros((t, 0, 7)),
            object_confidence=data["object_confidence"] if "object_confidence" in data.files else None,
            frame=str(data["frame"]) if "frame" in data.files else "world", source="perception", path=str(path),
            meta=json.loads(str(data["meta_json"])) if "meta_json" in data.files else {})


def read_ground_truth(path: str | Path) -> HumanTrajectory:
    """A synthetic recording's ground truth as if perception had seen it perfectly."""
    path = Path(path)
    with _open_npz(path) as data:
        if "keypoints_world" not in data.files or "meta_json" not in data.files:
            raise TrajectoryInputError(f"{path}: not a dexmv_capture ground_truth.npz (no keypoints_world/meta_json)")
        meta = json.loads(str(data["meta_json"]))
        arrays = {k: data[k] for k in data.files if k.startswith("object_pose/")}
        keypoints = data["keypoints_world"]
        stamps = data["timestamps_ms"] / 1000.0
    names = [n for n in meta.get("objects", {}) if f"object_pose/{n}" in arrays]
    ids = [meta["objects"][n]["object_id"] for n in names]
    poses = np.stack([matrix_to_pose7(arrays[f"object_pose/{n}"]) for n in names], axis=1) if names \
        else np.zeros((len(stamps), 0, 7))
    return HumanTrajectory.from_arrays(keypoints=keypoints, confidence=None, stamps=stamps, object_ids=ids,
                                       object_poses=poses, object_confidence=None, source="ground_truth",
                                       path=str(path), meta=meta)


def _open_npz(path: Path):
    if not path.is_file():
        raise TrajectoryInputError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise TrajectoryInputError(f"{path}: not a NumPy .npz file ({err})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise TrajectoryInputError(f"{path}: a .npy array, expected an .npz archive")
    return data


def load_trajectory(path: str | Path) -> HumanTrajectory:
    """Read any supported source (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        if (path / "metadata.yaml").is_file():
            from dexmv_learning.recording.bag_reader import read_bag_trajectory

            return read_bag_trajectory(path)
        if (path / "poses.npz").is_file():
            return read_poses_npz(path / "poses.npz")
        if (path / "ground_truth.npz").is_file():
            return read_ground_truth(path / "ground_truth.npz")
        raise TrajectoryInputError(f"{path}: neither a rosbag2 directory (metadata.yaml) nor a recording "
                                   "(poses.npz or ground_truth.npz)")
    if path.suffix == ".npz":
        with _open_npz(path) as data:
            files = set(data.files)
        return read_ground_truth(path) if "keypoints_world" in files else read_poses_npz(path)
    if not path.exists():
        raise TrajectoryInputError(f"{path}: no such file or directory")
    raise TrajectoryInputError(f"{path}: not a bag directory, recording directory or .npz poses file")
