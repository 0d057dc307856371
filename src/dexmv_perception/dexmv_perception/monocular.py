"""Monocular RGB video (any phone or webcam `.mp4`, no depth): hand-relative 3D keypoints.

Without depth a single camera cannot place the hand in the scene, but MediaPipe's world landmarks
are metric 3D keypoints of the hand itself (an average-sized hand; origin near the hand's centre,
axes of the camera). Those, moved to the wrist as origin and filtered (One Euro), are what
fingers-only retargeting needs (`dexmv retarget --fingers-only`): the fingers relative to the palm.
The poses file marks them `frame = "hand_relative"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dexmv_perception.hand.landmarks import HandLandmarker
from dexmv_perception.hand.one_euro import OneEuroFilter


class VideoError(ValueError):
    """A video that cannot be read; the message names the file."""


def video_frames(path: str | Path) -> tuple[float, int, Iterator[tuple[float, np.ndarray]]]:
    """(fps, frame count or 0 if unknown, (stamp in s, RGB frame) pairs) of a video file (OpenCV's
    FFmpeg reader), upright: a phone's rotation metadata applied.

    Stamps are the decoder's presentation times: phones record at a variable frame rate (a dim
    scene or a busy encoder stretches frames), and frame index / nominal fps would then misstate
    the hand's speed (the temporal filter and a retargeted trajectory's timing use the stamps).
    Where the container gives none, or they do not increase, frame index / fps is used instead.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"{path}: cannot be opened as a video")
    # a phone's portrait video is stored sideways with a display rotation; OpenCV's wheels do not apply
    # it unless asked (measured: CAP_PROP_ORIENTATION_AUTO 0 by default)
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise VideoError(f"{path}: has no readable frame")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    fps = fps if 1.0 <= fps <= 1000.0 else 30.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        try:
            frame, k, last, offset = first, 0, -np.inf, None
            while frame is not None:
                decoded = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if offset is None:  # stamps start at 0 (a clip cut from a longer one starts later)
                    offset = decoded if np.isfinite(decoded) else 0.0
                stamp = decoded - offset
                if not (np.isfinite(stamp) and stamp > last):
                    stamp = max(k / fps, last + 1.0 / fps)
                last = stamp
                yield stamp, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, frame = cap.read()
                k += 1
                if not ok:
                    frame = None
        finally:
            cap.release()

    return fps, count, frames()


class MonocularHand:
    """Hand-relative keypoints per video frame: MediaPipe world landmarks, wrist at the origin, filtered."""

    def __init__(self, model_complexity: int = 1, mirrored: bool = False, min_cutoff: float = 1.5,
                 beta: float = 20.0) -> None:
        self.landmarker = HandLandmarker(model_complexity, crop=True, mirrored=mirrored)
        self.filter = OneEuroFilter(min_cutoff, beta)

    def update(self, rgb: np.ndarray, stamp: float) -> tuple[np.ndarray, np.ndarray, float, str]:
        """(keypoints (21, 3), confidence (21,), hand confidence, side) of one frame; confidence 0 if no hand."""
        found = self.landmarker.detect(rgb)
        if found is None:
            return np.full((21, 3), np.nan), np.zeros(21), 0.0, ""
        relative = found.world - found.world[0]
        filtered = self.filter(relative, stamp)
        return filtered, np.full(21, found.score), found.score, found.side

    def close(self) -> None:
        self.landmarker.close()
