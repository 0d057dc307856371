"""One step of perception for a rig: the hand (always), object poses and a MANO fit (when set up).

`Perception.update(frames, stamp)` is what the offline command, the benchmark and the node call.
Object estimation and MANO fitting are optional stages: without object ids or a MANO model file
they are skipped, and a backend that cannot run is switched off once with a message
(`Perception.notes`) rather than failing the hand pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexmv_perception.hand.tracker import CameraFrame, CameraHand, HandEstimate, HandTracker, HandTrackerConfig

HAND_MASK_MARGIN = 0.35  # hand mask: the landmarks' hull grown by this share of the hand's image size
FOREARM_LENGTH = 1.5  # ... plus the forearm, this many wrist-to-knuckle lengths beyond the wrist


@dataclass
class PerceptionFrame:
    """Everything perceived at one moment."""

    hand: HandEstimate
    objects: list = field(default_factory=list)  # ObjectPoseEstimate per object found
    mano: object | None = None  # ManoFit when a MANO model is loaded and the fit ran


def hand_mask(hand: CameraHand, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool pixels of the hand and forearm in one camera, from its landmarks."""
    import cv2

    px = hand.landmarks.pixels
    size = float(np.linalg.norm(px.max(axis=0) - px.min(axis=0)))
    centre = px.mean(axis=0)
    grown = centre + (px - centre) * (1.0 + HAND_MASK_MARGIN)
    forearm = px[0] + (px[0] - px[9]) * FOREARM_LENGTH
    hull = cv2.convexHull(np.vstack([grown, forearm[None]]).astype(np.float32)).astype(np.int32)
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    width = max(int(0.25 * size), 3)
    cv2.line(mask, tuple(int(v) for v in px[0]), tuple(int(v) for v in forearm), 1, width)
    return mask.astype(bool)


class Perception:
    """Hand tracker + optional object pose backend + optional MANO fitter, for the cameras of one rig."""

    def __init__(self, cameras: Sequence[str], hand_config: HandTrackerConfig | None = None, *,
                 object_ids: Sequence[str] = (), object_scales: dict[str, float] | None = None,
                 object_backend=None, mano_model: str | Path | None = None, seed: int = 0,
                 overlap_objects: bool = False) -> None:
        self.hand = HandTracker(list(cameras), hand_config or HandTrackerConfig())
        self.notes: list[str] = []
        self.objects = object_backend
        # overlap_objects: estimate the objects of a moment in a worker thread while MediaPipe looks
        # at its images, with the previous moment's hand (its masks and keypoints) to take the hand's
        # points out. Off by default: on 2 cores the thread's contention (the GIL, BLAS threads)
        # cost more than it saved since the estimate got faster (measured 14.5-14.9 against 17.0
        # moments/s serially on the default recording), and serially each moment's objects are
        # segmented with that moment's hand (mug 101: rotation error 23 -> 3.7 deg)
        self._overlap = None
        self._last_hand: HandEstimate | None = None
        if overlap_objects:
            from concurrent.futures import ThreadPoolExecutor

            self._overlap = ThreadPoolExecutor(1, thread_name_prefix="objects")
        self._takes_hand: bool | None = None
        if self.objects is None and object_ids:
            from dexmv_perception.objects import ObjectTracker

            self.objects = ObjectTracker(list(object_ids), seed=seed, scales=object_scales)
        self.mano_fitter = None
        self._mano_init = None
        if mano_model is not None:
            from dexmv_perception.mano import ManoFitter, load_mano_model

            self.mano_fitter = ManoFitter(load_mano_model(mano_model))
        else:
            self.notes.append("no MANO model file given: MANO fields stay empty (has_mano false)")

    @property
    def object_ids(self) -> list[str]:
        return list(getattr(self.objects, "object_ids", []) or [])

    def update(self, frames: list[CameraFrame], stamp: float,
               reverse: dict[str, CameraHand | None] | None = None) -> PerceptionFrame:
        """Everything perceived at one moment; reverse: the reverse pass's views (offline only:
        hand/reverse_pass.py)."""
        if self.objects is not None and self._overlap is not None:
            pending = self._overlap.submit(self._objects, frames, self._last_hand)
            hand = self.hand.update(frames, stamp, reverse)
            out = PerceptionFrame(hand, pending.result())
        else:
            hand = self.hand.update(frames, stamp, reverse)
            out = PerceptionFrame(hand)
            if self.objects is not None:
                out.objects = self._objects(frames, hand)
        self._last_hand = hand
        if self.mano_fitter is not None and (hand.confidence > 0).sum() >= 10:
            from dexmv_perception.mano.fitting import ManoFitError

            try:
                fit = self.mano_fitter.fit(np.where(hand.confidence[:, None] > 0, hand.keypoints, np.nan),
                                           hand.confidence, init=self._mano_init)
                self._mano_init = out.mano = fit
            except ManoFitError as err:
                self._note(f"MANO fit skipped: {err}")
        return out

    def _objects(self, frames: list[CameraFrame], hand: HandEstimate | None) -> list:
        from dexmv_perception.objects import DepthView

        views = []
        for frame in frames:
            if frame.depth_m is None:
                continue
            seen = None if hand is None else hand.cameras.get(frame.name)
            mask = hand_mask(seen, frame.depth_m.shape) if seen is not None else None
            views.append(DepthView(frame.depth_m, frame.K, frame.T_world_camera, mask))
        try:
            if self._objects_take_hand():
                # the fused hand's keypoints take out what the 2D masks miss: edge pixels, a forearm
                # beyond the mask, a hand seen by one camera only
                keypoints = np.where(hand.confidence[:, None] > 0, hand.keypoints, np.nan) \
                    if hand is not None and hand.detected else None
                return list(self.objects.update(views, hand_keypoints=keypoints))
            return list(self.objects.update(views))
        except NotImplementedError as err:
            self._note(f"object poses switched off: {err}")
            self.objects = None
            return []

    def _objects_take_hand(self) -> bool:
        """Whether the object backend's update takes `hand_keypoints` (the default one does; a
        plugged-in backend need not)."""
        import inspect

        if self._takes_hand is None:
            try:
                self._takes_hand = "hand_keypoints" in inspect.signature(self.objects.update).parameters
            except (TypeError, ValueError):
                self._takes_hand = False
        return self._takes_hand

    def warm_up(self) -> None:
        """Pay the one-off costs before the first frame: MediaPipe's model loading, the objects' point models."""
        self.hand.warm_up()
        prepare = getattr(self.objects, "prepare", None)
        if callable(prepare):
            prepare()

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def reset(self) -> None:
        self.hand.reset()
        self._mano_init = None
        self._last_hand = None
        if self.objects is not None:
            self.objects.reset()

    def close(self) -> None:
        self.hand.close()
        if self._overlap is not None:
            self._overlap.shutdown(wait=True)
