"""MediaPipe Hands per camera, in video mode, on a hand-centred crop from the previous frame's box.

MediaPipe 0.10.21 bundles its models (works offline). Its palm detector sees the whole image
shrunk to 192 px, where a hand 100-150 px long in a 640x480 frame becomes small; a square crop
around where the hand was a frame ago shows the detector the hand several times larger, which is
what recovers it after occlusions. Two MediaPipe graphs keep their own tracking state: one is fed
the crops (which follow the hand, so the hand stays near the crop's centre and tracking holds),
the other the full frame, used only when there is no box or the crop found nothing.

The full model (model_complexity=1) places landmarks better than the lite one on hard views but
drops more of them below its tracking confidence; with `fallback_complexity` set, a frame in which
it found nothing is looked at again by that other model (on the crop, then the whole frame; in
image mode, as it runs only now and then and has no track to follow).

Handedness: MediaPipe labels hands as if the image were mirrored (a selfie camera). Camera images
here are not mirrored, so its "Left" is the person's right hand unless `mirrored=True`. The label
flickers on hard frames; `side` is a vote over the track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_CROP_PX = 160  # smallest crop side: a hand further away than this still gets context around it
MAX_MISSES = 5  # frames a box is kept (growing) after the hand was lost


@dataclass(frozen=True)
class Landmarks:
    """One hand as MediaPipe sees it in one image."""

    pixels: np.ndarray  # (21, 2) image pixels (x right, y down)
    world: np.ndarray  # (21, 3) MediaPipe's metric landmarks (m), origin near the hand's centre, camera axes
    score: float  # MediaPipe's handedness score of the hand (0..1), its confidence in the detection
    side: str  # "right" or "left": the person's hand (after the vote)
    frame_side: str  # what MediaPipe said in this frame alone: a flip against `side` often means a wrong pose
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks (pixels)
    from_crop: bool  # found in the hand-centred crop (else in the full frame)


def landmark_box(pixels: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = pixels.min(axis=0), pixels.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def crop_window(box: tuple[float, float, float, float], width: int, height: int, scale: float) -> tuple[int, int, int]:
    """(x0, y0, side) of a square crop `scale` times the box's longer side around its centre, inside the image."""
    x0, y0, x1, y1 = box
    side = round(max(x1 - x0, y1 - y0, 1.0) * scale)
    side = max(min(side, width, height), min(MIN_CROP_PX, width, height))
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    left = round(min(max(cx - side / 2, 0), width - side))
    top = round(min(max(cy - side / 2, 0), height - side))
    return left, top, side


class HandLandmarker:
    """MediaPipe Hands on one camera's frames, in order (`detect(rgb)` per frame)."""

    def __init__(self, model_complexity: int = 0, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, crop: bool = True, crop_scale: float = 2.2,
                 mirrored: bool = False, fallback_complexity: int | None = None) -> None:
        import mediapipe as mp

        def graph(complexity: int = model_complexity, static: bool = False):
            return mp.solutions.hands.Hands(static_image_mode=static, max_num_hands=1,
                                            model_complexity=complexity,
                                            min_detection_confidence=min_detection_confidence,
                                            min_tracking_confidence=min_tracking_confidence)

        self._full = graph()
        self._crop = graph() if crop else None
        self._fallback = None
        if fallback_complexity is not None and fallback_complexity != model_complexity:
            self._fallback = graph(fallback_complexity, static=True)
        self.crop_scale, self.mirrored = crop_scale, mirrored
        self._box: tuple[float, float, float, float] | None = None
        self._misses = 0
        self._side_vote = 0.0  # > 0: right

    def reset(self) -> None:
        self._box, self._misses, self._side_vote = None, 0, 0.0

    def restart(self) -> None:
        """Forget where the hand was, MediaPipe's own video-mode tracking included: for a frame long
        after the last one. Why: both graphs look for the hand where it was, and from a second
        earlier they fitted one 30 cm from the truth in the crop of the old place (perception_node
        on loaded cores, replayed offline: 295 mm, and 9-20 mm after a restart). Costs ~25 ms."""
        self._box, self._misses = None, 0
        for graph in (self._full, self._crop):
            if graph is not None:
                graph.reset()

    def warm_up(self, width: int = 640, height: int = 480) -> None:
        """Run both graphs once on a blank image: the first call loads the models (slow), not a real frame's."""
        blank = np.zeros((height, width, 3), dtype=np.uint8)
        self._full.process(blank)
        if self._crop is not None:
            side = min(MIN_CROP_PX, width, height)
            self._crop.process(np.ascontiguousarray(blank[:side, :side]))
        self.reset()

    def _run(self, graph, rgb: np.ndarray, left: int, top: int):
        result = graph.process(np.ascontiguousarray(rgb))
        if not result.multi_hand_landmarks:
            return None
        h, w = rgb.shape[:2]
        lm = result.multi_hand_landmarks[0].landmark
        pixels = np.array([[p.x * w + left, p.y * h + top] for p in lm])
        world = np.array([[p.x, p.y, p.z] for p in result.multi_hand_world_landmarks[0].landmark])
        cls = result.multi_handedness[0].classification[0]
        return pixels, world, float(cls.score), cls.label

    def detect(self, rgb: np.ndarray) -> Landmarks | None:
        """The hand in this frame, or None."""
        height, width = rgb.shape[:2]
        found, from_crop, window = None, False, None
        if self._crop is not None and self._box is not None:
            window = crop_window(self._box, width, height, self.crop_scale * (1.0 + 0.25 * self._misses))
            left, top, side = window
            found = self._run(self._crop, rgb[top:top + side, left:left + side], left, top)
            from_crop = found is not None
        if found is None:
            found = self._run(self._full, rgb, 0, 0)
        if found is None and self._fallback is not None:
            if window is not None:  # the same crop first
                found = self._run(self._fallback, rgb[top:top + side, left:left + side], left, top)
                from_crop = found is not None
            if found is None:
                found = self._run(self._fallback, rgb, 0, 0)
        if found is None:
            self._misses += 1
            if self._misses > MAX_MISSES:
                self._box = None
            return None
        pixels, world, score, label = found
        self._box, self._misses = landmark_box(pixels), 0
        right = (label == "Left") != self.mirrored
        self._side_vote = 0.9 * self._side_vote + (score if right else -score)
        return Landmarks(pixels, world, score, "right" if self._side_vote >= 0 else "left",
                         "right" if right else "left", self._box, from_crop)

    def close(self) -> None:
        for graph in (self._full, self._crop, self._fallback):
            if graph is not None:
                graph.close()

    def __enter__(self) -> HandLandmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
