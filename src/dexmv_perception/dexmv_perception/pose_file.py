"""The poses file `dexmv perceive` writes and `dexmv retarget` reads (.npz, no pickle).

Arrays (T frames, K objects):
  keypoints (T, 21, 3) metres, NaN where the keypoint was not observed; confidence (T, 21);
  stamps (T,) seconds; frame: "world" (RGB-D rig) or "hand_relative" (monocular video: MediaPipe's
  metric landmarks, origin at the wrist, camera axes, no position in the scene); handedness:
  "right"/"left" (majority over the frames); hand_confidence (T,);
  object_ids (K,), object_poses (T, K, 7) x y z qx qy qz qw in world (NaN where unknown),
  object_confidence (T, K);
  has_mano (bool); with it mano_betas (T, 10), mano_pose (T, 48), mano_translation (T, 3), NaN
  where no fit; meta_json: the source, settings and notes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FRAMES = ("world", "hand_relative")


class PoseTrackWriter:
    """Collects perception results frame by frame and writes the poses file."""

    def __init__(self, frame: str, object_ids: list[str] | tuple[str, ...] = ()) -> None:
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
        self.frame, self.object_ids = frame, list(object_ids)
        self.stamps: list[float] = []
        self.keypoints: list[np.ndarray] = []
        self.raw: list[np.ndarray | None] = []  # before the online filter, for an offline smoothing at save
        self.confidence: list[np.ndarray] = []
        self.hand_confidence: list[float] = []
        self.sides: list[str] = []
        self.objects: list[np.ndarray] = []
        self.object_confidence: list[np.ndarray] = []
        self.mano: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []

    def add(self, stamp: float, keypoints: np.ndarray, confidence: np.ndarray, hand_confidence: float, side: str,
            objects=(), mano=None, raw: np.ndarray | None = None) -> None:
        """One frame. raw: the keypoints before the online temporal filter, needed by save(smooth_s > 0)."""
        conf = np.asarray(confidence, dtype=float)
        self.stamps.append(float(stamp))
        self.keypoints.append(np.where(conf[:, None] > 0, keypoints, np.nan))
        self.raw.append(None if raw is None else np.asarray(raw, dtype=float))
        self.confidence.append(conf)
        self.hand_confidence.append(float(hand_confidence))
        self.sides.append(side)
        poses = np.full((len(self.object_ids), 7), np.nan)
        obj_conf = np.zeros(len(self.object_ids))
        for est in objects:
            if est.object_id in self.object_ids and est.confidence > 0:
                k = self.object_ids.index(est.object_id)
                poses[k] = np.concatenate([est.position, est.quaternion_xyzw()])
                obj_conf[k] = est.confidence
        self.objects.append(poses)
        self.object_confidence.append(obj_conf)
        self.mano.append(None if mano is None else (mano.betas, mano.pose, mano.translation))

    def __len__(self) -> int:
        return len(self.stamps)

    def has_mano(self) -> bool:
        return any(m is not None for m in self.mano)

    def handedness(self) -> str:
        right = sum(s == "right" for s in self.sides)
        left = sum(s == "left" for s in self.sides)
        return "" if right == left == 0 else ("right" if right >= left else "left")

    def save(self, path: str | Path, meta: dict | None = None, smooth_s: float = 0.0) -> Path:
        """Write the file; smooth_s > 0: the keypoints are the raw ones smoothed over time both ways
        (hand/offline_smoothing.py) instead of the online filter's."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        t, k = len(self), len(self.object_ids)
        has_mano = self.has_mano()
        keypoints = np.array(self.keypoints).reshape(t, 21, 3)
        if smooth_s > 0 and t:
            from dexmv_perception.hand.offline_smoothing import smooth_keypoints

            if any(r is None for r in self.raw):  # smoothing without them would write no keypoints at all
                raise ValueError("PoseTrackWriter.save(smooth_s > 0) needs every frame's unfiltered keypoints "
                                 "(add(..., raw=...))")

            keypoints = smooth_keypoints(np.array(self.stamps), np.array(self.raw).reshape(t, 21, 3),
                                         np.array(self.confidence).reshape(t, 21), smooth_s)
        arrays = {
            "keypoints": keypoints,
            "confidence": np.array(self.confidence).reshape(t, 21),
            "stamps": np.array(self.stamps, dtype=float),
            "frame": np.array(self.frame),
            "handedness": np.array(self.handedness()),
            "hand_confidence": np.array(self.hand_confidence, dtype=float),
            "object_ids": np.array(self.object_ids, dtype=str).reshape(k),
            "object_poses": np.array(self.objects).reshape(t, k, 7),
            "object_confidence": np.array(self.object_confidence).reshape(t, k),
            "has_mano": np.array(has_mano),
            "meta_json": np.array(json.dumps(meta or {})),
        }
        if has_mano:
            for name, size, index in (("mano_betas", 10, 0), ("mano_pose", 48, 1), ("mano_translation", 3, 2)):
                arrays[name] = np.array([np.full(size, np.nan) if m is None else np.asarray(m[index], float)
                                         for m in self.mano]).reshape(t, size)
        np.savez_compressed(path, **arrays)
        return path


def load_poses(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a poses file (strings as str), without unpickling anything."""
    with np.load(path, allow_pickle=False) as data:
        out = {name: data[name] for name in data.files}
    for name in ("frame", "handedness"):
        out[name] = str(out[name])
    out["meta"] = json.loads(str(out.pop("meta_json")))
    return out
