"""One step of perception for a rig: the hand (always), object poses and a MANO fit (when set up).

`Perception.update(frames, stamp)` is what the node calls per moment; the offline command, the
benchmark and `dexmv demos` run `Perception.stream(moments)`, the same updates with MediaPipe a
moment ahead.
Object estimation and MANO fitting are optional stages: without object ids or a MANO model file
they are skipped, and a backend that cannot run is switched off once with a message
(`Perception.notes`) rather than failing the hand pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexmv_perception.blas_threads import use_one_blas_thread
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
                 object_backend=None, mano_model: str | Path | None = None, seed: int = 0) -> None:
        use_one_blas_thread()  # blas_threads.py: BLAS threads only spin here, on cores MediaPipe needs
        self.hand = HandTracker(list(cameras), hand_config or HandTrackerConfig())
        self.notes: list[str] = []
        self.objects = object_backend
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
               reverse: dict[str, CameraHand | None] | None = None,
               upcoming: tuple[float, list[CameraFrame]] | None = None,
               on_hand: Callable[[PerceptionFrame], None] | None = None) -> PerceptionFrame:
        """Everything perceived at one moment; reverse: the reverse pass's views (offline only:
        hand/reverse_pass.py); upcoming: the next moment's (stamp, frames), when known, for MediaPipe to look
        at while this moment's objects are estimated (HandTracker.prefetch; the next call must be
        given them). on_hand(result): called with the hand and its MANO fit before the objects are
        estimated (`result.objects` is filled after it returns), so that a node publishes the hand
        without waiting for them: a search for a hidden object takes 0.5-3 s."""
        hand = self.hand.update(frames, stamp, reverse, upcoming)
        out = PerceptionFrame(hand)
        if self.mano_fitter is not None and (hand.confidence > 0).sum() >= 10:
            from dexmv_perception.mano.fitting import ManoFitError

            try:
                fit = self.mano_fitter.fit(np.where(hand.confidence[:, None] > 0, hand.keypoints, np.nan),
                                           hand.confidence, init=self._mano_init)
                self._mano_init = out.mano = fit
            except ManoFitError as err:
                self._note(f"MANO fit skipped: {err}")
        if on_hand is not None:
            on_hand(out)
        if self.objects is not None:
            out.objects = self._objects(frames, hand)
        return out

    def stream(self, moments: Iterable[tuple]) -> Iterator[tuple[float, list[CameraFrame], PerceptionFrame]]:
        """`update` on each moment of a stream, in order: (stamp, frames) or (stamp, frames, reverse)
        in, (stamp, frames, result) out. Each next moment is read before this one's result is
        handed on, so that MediaPipe looks at it while this moment's objects are estimated
        (`upcoming`); the results are update()'s, one by one (default recording: 13.7-13.9 -> 16.1-16.4
        moments/s with objects, alternately). For recordings, where the next moment is there to read;
        live, waiting for it would add a frame of latency."""
        it = iter(moments)
        current = next(it, None)
        while current is not None:
            following = next(it, None)
            stamp, frames, *reverse = current
            result = self.update(frames, stamp, reverse[0] if reverse else None,
                                 upcoming=None if following is None else (following[0], following[1]))
            yield stamp, frames, result
            current = following

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
        if self.objects is not None:
            self.objects.reset()

    def close(self) -> None:
        self.hand.close()
