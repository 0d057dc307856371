"""MediaPipe Hands on colour frames: how often a hand is found (the detection rate of a recording).

MediaPipe 0.10.21 bundles its hand models, so this works offline. Frames are fed in order in
tracking mode (static_image_mode=False), as a video pipeline would run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    found: bool
    handedness: str | None  # MediaPipe's label ("Right"/"Left") for the best hand
    score: float
    landmarks_px: np.ndarray | None  # (21, 2) pixels in MediaPipe keypoint order


class HandDetector:
    """MediaPipe Hands in video mode; `detect(rgb)` per frame in order."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self._hands = mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=1,
                                               model_complexity=model_complexity,
                                               min_detection_confidence=min_detection_confidence,
                                               min_tracking_confidence=min_tracking_confidence)

    def detect(self, rgb: np.ndarray) -> Detection:
        result = self._hands.process(np.ascontiguousarray(rgb))
        if not result.multi_hand_landmarks:
            return Detection(False, None, 0.0, None)
        h, w = rgb.shape[:2]
        lm = result.multi_hand_landmarks[0].landmark
        pts = np.array([[p.x * w, p.y * h] for p in lm])
        cls = result.multi_handedness[0].classification[0]
        return Detection(True, cls.label, float(cls.score), pts)

    def close(self) -> None:
        self._hands.close()

    def __enter__(self) -> HandDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def detection_rate(frames: Iterable[np.ndarray], model_complexity: int = 1) -> tuple[float, int]:
    """(share of frames with a hand, number of frames) for RGB frames in order."""
    found = total = 0
    with HandDetector(model_complexity) as det:
        for rgb in frames:
            total += 1
            found += det.detect(rgb).found
    return (found / total if total else 0.0), total
