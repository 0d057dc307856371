"""The project's 21-keypoint hand layout (MediaPipe / OpenPose order; MANO joints + tips) and input checks.

Every stage (palm frame, initial guess, task-space vectors, the robot's own keypoints) indexes
keypoints through these names, so the order is written down once.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 21
WRIST = 0
FINGERS = ("thumb", "index", "middle", "ring", "little")
# Per finger, from the hand outward: thumb CMC, MCP, IP, tip; fingers MCP, PIP, DIP, tip.
FINGER_KEYPOINTS: dict[str, tuple[int, int, int, int]] = {
    "thumb": (1, 2, 3, 4),
    "index": (5, 6, 7, 8),
    "middle": (9, 10, 11, 12),
    "ring": (13, 14, 15, 16),
    "little": (17, 18, 19, 20),
}
INDEX_MCP = 5
MIDDLE_MCP = 9
LITTLE_MCP = 17
# Keypoints the palm frame is built from: without them a frame cannot be retargeted at all.
PALM_KEYPOINTS = (WRIST, INDEX_MCP, LITTLE_MCP)


class KeypointInputError(ValueError):
    """Keypoints or confidences of the wrong shape or type; the message names where they came from."""


def check_keypoints(keypoints: np.ndarray, source: str = "keypoints") -> np.ndarray:
    """(T, 21, 3) float64 metres; NaN marks missing keypoints. `source` names the file or topic in errors."""
    arr = np.asarray(keypoints)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise KeypointInputError(f"{source}: expected numbers, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (NUM_KEYPOINTS, 3):
        raise KeypointInputError(
            f"{source}: expected shape (T, 21, 3) (frames, keypoints, xyz metres), got {arr.shape}")
    if arr.shape[0] == 0:
        raise KeypointInputError(f"{source}: no frames")
    arr = arr.astype(np.float64)
    if np.isinf(arr).any():
        raise KeypointInputError(f"{source}: contains infinite values (use NaN for missing keypoints)")
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise KeypointInputError(f"{source}: every keypoint is NaN (missing): nothing to retarget")
    if finite.size and np.abs(finite).max() > 100.0:
        raise KeypointInputError(
            f"{source}: coordinates up to {np.abs(finite).max():.1f}; keypoints must be in metres (millimetres?)")
    return arr


def check_confidence(confidence: np.ndarray | None, frames: int, source: str = "confidence") -> np.ndarray:
    """(T, 21) per-keypoint confidence in [0, 1]; None means all keypoints are fully trusted."""
    if confidence is None:
        return np.ones((frames, NUM_KEYPOINTS))
    arr = np.asarray(confidence, dtype=np.float64)
    if arr.shape != (frames, NUM_KEYPOINTS):
        raise KeypointInputError(f"{source}: expected shape ({frames}, 21), got {arr.shape}")
    arr = np.nan_to_num(arr, nan=0.0)
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise KeypointInputError(f"{source}: confidences must lie in [0, 1], got {arr.min():g} .. {arr.max():g}")
    return arr


def transform_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Apply a 4x4 homogeneous transform (target <- source) to (..., 3) points; NaN stays NaN."""
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (4, 4):
        raise KeypointInputError(f"transform: expected a 4x4 matrix, got shape {transform.shape}")
    return points @ transform[:3, :3].T + transform[:3, 3]


def valid_keypoints(keypoints: np.ndarray, confidence: np.ndarray, min_confidence: float) -> np.ndarray:
    """(..., 21) bool: finite and at least `min_confidence`."""
    return np.isfinite(keypoints).all(axis=-1) & (confidence >= min_confidence)
