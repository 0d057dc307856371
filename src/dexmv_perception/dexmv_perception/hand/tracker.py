"""The hand pipeline of one rig: per camera MediaPipe + depth lifting, then fusion and the One Euro filter.

Library code without ROS: `dexmv perceive`, `dexmv bench perception` and perception_node all call
`HandTracker.update(frames, stamp)` once per moment (one frame of each camera that delivered).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dexmv_perception.hand.bone_refinement import BoneRefinementConfig, refine_with_bones
from dexmv_perception.hand.depth_lifting import MAX_DEPTH_M, LiftedHand, lift_hand
from dexmv_perception.hand.fusion import CameraView, FusedHand, FusionConfig, fuse_views
from dexmv_perception.hand.landmarks import HandLandmarker, Landmarks
from dexmv_perception.hand.one_euro import OneEuroFilter
from dexmv_perception.hand.ray_placement import place_at_distance, place_on_ray, ray_through_pixel
from dexmv_perception.hand.skeleton import BONES, NUM_KEYPOINTS, WRIST, bone_lengths, wrist_frame
from dexmv_perception.rigid_fit import rigid_motion

# A bone this much longer or shorter than the hand's own (median over its confident frames) marks its
# child keypoint as unreliable; a bone over MAX_BONE_M belongs to no human hand.
BONE_TOLERANCE = 0.35
MAX_BONE_M = 0.13
WRONG_SIDE_FACTOR = 0.2
SIDE_VOTE_DECAY = 0.97  # per camera frame: the vote remembers about a second at 30 fps
RECENT_S = 0.25  # a previous estimate older than this does not gate the next one
WRIST_NEIGHBOURS = (1, 5, 9, 13, 17)  # thumb CMC and the knuckles: the wrist's bones end there
WRIST_BONES = BONES[:, 0] == WRIST  # (20,) bool: the five bones from the wrist
WRIST_RAY_GATE_M = 0.025  # a wrist ray placement this far from the palm shape's prediction is not taken
# a hidden keypoint is moved along its ray at most this far: a placement farther from MediaPipe's shape
# more often means the parent, the pixel or the root (of the ray's two points at the bone's length) is off
# than the depth (33 synthetic recordings: 6 cm gave the lower mean, 18.11 mm, but up to 2.9 mm worse on
# some; 3 cm 18.13 mm, never more than 0.4 mm worse)
HIDDEN_MAX_MOVE_M = 0.03
# a camera frame this long after that camera's previous one restarts its landmarker (landmarks.py):
# MediaPipe's video-mode tracking assumes the hand is near where it was a frame ago
LANDMARK_RESTART_S = 0.25
REVERSE_SUFFIX = "~reverse"  # a camera's view from the reverse pass (reverse_pass.py) is named <camera>~reverse


@dataclass(frozen=True)
class CameraFrame:
    """One camera's images at one moment, with what is needed to place them in `world`."""

    name: str
    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth_m: np.ndarray | None  # (H, W) float32 metres aligned to colour, 0/NaN = no depth; None: no depth camera
    K: np.ndarray  # (3, 3) colour intrinsics
    T_world_camera: np.ndarray  # (4, 4) world <- colour optical frame


@dataclass(frozen=True)
class CameraHand:
    """One camera's hand at one moment (before fusion)."""

    landmarks: Landmarks
    lifted: LiftedHand  # in the optical frame
    points_world: np.ndarray  # (21, 3)


@dataclass(frozen=True)
class HandTrackerConfig:
    model_complexity: int = 0  # MediaPipe: 0 lite (real time for two cameras), 1 full
    # with the full model, the lite one looks again where the full one found no hand (landmarks.py): ten
    # synthetic recordings, hand MPJPE 18.5 (lite) -> 16.4 (full) -> 16.2 mm (full + lite), detection rate
    # 1.00 -> 0.92 -> 0.99
    lite_fallback: bool = True
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    crop: bool = True
    mirrored: bool = False
    filter_min_cutoff_hz: float = 1.5
    filter_beta: float = 40.0  # per (m/s): the filter's lag stays under 1 / (2 pi beta) = 4 mm
    filter_d_cutoff_hz: float = 1.0
    fusion: FusionConfig = field(default_factory=FusionConfig)
    bones: BoneRefinementConfig = field(default_factory=BoneRefinementConfig)  # bone_refinement.py
    # "right"/"left" if the person's hand is known (DexMV films right hands), "auto": a vote over cameras
    # and time. A camera whose MediaPipe says the other side in a frame has most likely fitted the hand's
    # mirror image (palm and back confused): its confidence is cut to WRONG_SIDE_FACTOR.
    side: str = "auto"
    # one thread per camera: MediaPipe releases the GIL while its graph runs, so two cameras overlap
    parallel_cameras: bool = True


@dataclass(frozen=True)
class HandEstimate:
    """The fused hand at one moment, in `world`."""

    stamp: float
    keypoints: np.ndarray  # (21, 3) filtered; the last known position where not observed now, NaN if never seen
    confidence: np.ndarray  # (21,) 0 where the keypoint was not observed at this moment
    raw: np.ndarray  # (21, 3) fused before the filter (NaN where not observed)
    hand_confidence: float  # 0 when no camera saw the hand
    side: str  # "right" / "left" ("" when unknown)
    cameras: dict[str, CameraHand]  # the cameras that saw the hand
    rejected_cameras: tuple[str, ...]

    @property
    def detected(self) -> bool:
        return bool(self.hand_confidence > 0 and (self.confidence > 0).any())


class HandTracker:
    """Tracks one hand through a rig's frames (see the module docstring)."""

    def __init__(self, cameras: list[str], config: HandTrackerConfig = HandTrackerConfig()) -> None:
        if not cameras:
            raise ValueError("HandTracker needs at least one camera")
        if config.side not in ("auto", "right", "left"):
            raise ValueError(f"side must be 'auto', 'right' or 'left', got {config.side!r}")
        self.config = config
        self.landmarkers = {name: HandLandmarker(config.model_complexity, config.min_detection_confidence,
                                                 config.min_tracking_confidence, config.crop,
                                                 mirrored=config.mirrored,
                                                 fallback_complexity=0 if config.lite_fallback else None)
                            for name in cameras}
        self.filter = OneEuroFilter(config.filter_min_cutoff_hz, config.filter_beta, config.filter_d_cutoff_hz)
        self._bones: list[np.ndarray] = []  # bone lengths of confident frames
        self._palms: list[np.ndarray] = []  # the palm's shape (wrist, WRIST_NEIGHBOURS) in them, wrist frame
        self._last: np.ndarray | None = None
        self._last_stamp = -np.inf
        self._side_vote = 0.0  # > 0: right
        self._pool = None
        self._prefetched: tuple[list[CameraFrame], list] | None = None  # prefetch(): frames, their futures
        self._camera_stamps: dict[str, float] = {}  # each camera's last observed stamp (LANDMARK_RESTART_S)
        if config.parallel_cameras and len(cameras) > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(len(cameras), thread_name_prefix="hand-camera")

    def warm_up(self) -> None:
        """Load MediaPipe's models now (each graph's first call), not on the first frames."""
        for landmarker in self.landmarkers.values():
            landmarker.warm_up()

    def reset(self) -> None:
        self._drop_prefetched()
        self._camera_stamps.clear()
        for landmarker in self.landmarkers.values():
            landmarker.reset()
        self.filter.reset()
        self._bones.clear()
        self._palms.clear()
        self._last, self._last_stamp = None, -np.inf
        self._side_vote = 0.0

    def observe(self, frame: CameraFrame, stamp: float | None = None) -> CameraHand | None:
        """MediaPipe and depth lifting on one camera's frame (its landmarker's tracking state advances);
        with `stamp`, a frame LANDMARK_RESTART_S or more after that camera's last restarts its landmarker."""
        landmarker = self.landmarkers.get(frame.name)
        if landmarker is None:
            raise ValueError(f"unknown camera {frame.name!r}; this tracker has {sorted(self.landmarkers)}")
        if stamp is not None:
            last = self._camera_stamps.get(frame.name)
            if last is not None and abs(stamp - last) >= LANDMARK_RESTART_S:
                landmarker.restart()
            self._camera_stamps[frame.name] = stamp
        found = landmarker.detect(frame.color)
        if found is None:
            return None
        if frame.depth_m is None:
            return None  # no depth: this camera cannot place the hand on its own
        rel = found.world[:, 2] - np.median(found.world[:, 2])
        lifted = lift_hand(found.pixels, rel, frame.depth_m, frame.K)
        R, t = frame.T_world_camera[:3, :3], frame.T_world_camera[:3, 3]
        return CameraHand(found, lifted, lifted.points @ R.T + t)

    def _bad_bones(self, points: np.ndarray) -> np.ndarray:
        """(20,) bool: bones no human hand has, or off the hand's own (median of confident frames)."""
        lengths = bone_lengths(points)
        bad = ~(lengths < MAX_BONE_M)
        typical = self._typical_bones()
        if typical is not None:
            bad |= np.abs(lengths - typical) > BONE_TOLERANCE * typical
        return bad

    def _typical_bones(self) -> np.ndarray | None:
        """(20,) the hand's own bone lengths: the median of its last 60 confident frames (None before 5)."""
        if len(self._bones) < 5:
            return None
        return np.median(np.stack(self._bones[-60:]), axis=0)

    def _wrist_off(self, points: np.ndarray) -> bool:
        """Most of the wrist's bones are off: the wrist is, not each knuckle."""
        return _wrist_bones_off(self._bad_bones(points))

    def _bone_check(self, points: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """Confidence with keypoints on implausible bones lowered (their child end)."""
        lengths = bone_lengths(points)
        bad = self._bad_bones(points)
        out = confidence.copy()
        if _wrist_bones_off(bad):
            out[WRIST] *= 0.3
            bad = bad & ~WRIST_BONES
        out[BONES[bad, 1]] *= 0.3
        if (confidence[BONES].min(axis=1) > 0.5).all() and not bad.any():
            self._bones.append(lengths)
            frame = wrist_frame(points)
            if frame is not None:
                palm = points[[WRIST, *WRIST_NEIGHBOURS]]
                self._palms.append((palm - frame[:3, 3]) @ frame[:3, :3])
        return out

    def _refine_bones(self, fused: FusedHand) -> FusedHand:
        """The fused points moved together to the hand's own bone lengths (bone_refinement.py), once
        the hand has shown them (5 confident frames), over the views the fusion used."""
        typical = self._typical_bones()
        if not self.config.bones.enabled or typical is None or not fused.used_by:
            return fused
        return replace(fused, points=refine_with_bones(fused.points, *fused.used_rows(), typical, self.config.bones))

    def _place_wrist(self, fused: FusedHand, views: list[CameraView]) -> tuple[np.ndarray, np.ndarray]:
        """The fused points and confidences with the wrist placed again where it cannot be trusted:
        no camera measured its depth (its pixel shows the grasped object or the table beyond an
        edge; lifted from MediaPipe's shape it was 50-100 mm off in grasps seen from above while the
        knuckles were within 1-25 mm), or fusion left it out (its views disagreed). The palm's own
        shape (median of its confident frames) fitted to the confident thumb base and knuckles
        predicts the wrist; a camera's measured wrist, or else its ray passing at the hand's bone
        lengths (ray_placement.py), nearest that prediction places it; the prediction itself where
        none comes within `WRIST_RAY_GATE_M` (a landmark MediaPipe put off the wrist). A measured
        wrist the fusion kept is moved only when most of its bones are off (its depth measured on
        what is in front): the thumb base anchoring the prediction is itself often 3-5 cm off in
        grasps, so a prediction alone does not overrule a measurement."""
        points, confidence = fused.points, fused.confidence
        used = [v for v in views if v.name not in fused.rejected_cameras and np.all(np.isfinite(v.points_world[WRIST]))]
        measured = any(v.measured[WRIST] for v in used)
        if len(self._palms) < 5 or not used or (
                measured and np.all(np.isfinite(points[WRIST])) and not self._wrist_off(points)):
            return points, confidence
        # the knuckles confident; the thumb base, which keeps the fit off their line, seen at all
        # (from one camera its depth comes from the hand's shape: confidence about 0.5)
        anchors = [k for k in WRIST_NEIGHBOURS if confidence[k] >= (0.45 if k == WRIST_NEIGHBOURS[0] else 0.6)]
        if len(anchors) < 3 or WRIST_NEIGHBOURS[0] not in anchors:  # knuckles alone lie nearly on a line
            return points, confidence
        shape = np.median(np.stack(self._palms[-60:]), axis=0)  # (6, 3): wrist, then WRIST_NEIGHBOURS
        rows = [1 + WRIST_NEIGHBOURS.index(k) for k in anchors]
        motion = rigid_motion(shape[rows], points[anchors])
        predicted = motion[:3, :3] @ shape[0] + motion[:3, 3]
        lengths = np.linalg.norm(shape[rows] - shape[0], axis=1)
        best, best_gap = predicted, WRIST_RAY_GATE_M
        for view in used:
            if view.measured[WRIST] and np.linalg.norm(view.points_world[WRIST] - predicted) < best_gap \
                    and not self._wrist_off(np.vstack([view.points_world[WRIST], points[1:]])):
                best, best_gap = view.points_world[WRIST], float(np.linalg.norm(view.points_world[WRIST] - predicted))
            origin, direction = ray_through_pixel(view.pixels[WRIST], view.K, view.T_world_camera)
            placed = place_on_ray(origin, direction, points[anchors], lengths, predicted)
            if placed is not None and np.linalg.norm(placed - predicted) < best_gap:
                best, best_gap = placed, float(np.linalg.norm(placed - predicted))
        points, confidence = points.copy(), confidence.copy()
        points[WRIST] = best
        knuckles = [k for k in anchors if k != WRIST_NEIGHBOURS[0]]
        confidence[WRIST] = 0.5 * float(min(confidence[knuckles]))  # derived from the knuckles, not seen
        return points, confidence

    def _place_hidden(self, fused: FusedHand, views: list[CameraView], points: np.ndarray) -> np.ndarray:
        """The points with each keypoint that one camera alone saw, without measuring its depth (a
        finger hidden behind the grasped object from there), moved along that camera's ray to one bone
        length (the hand's own, median of its confident frames) from its parent; parents first, so a
        finger is placed joint by joint. Why: its depth came from MediaPipe's relative hand shape, a
        few centimetres off, while its pixel is good to a few pixels."""
        typical = self._typical_bones()
        if typical is None:
            return points
        by_name = {v.name: v for v in views}
        points = points.copy()
        for bone, (parent, k) in enumerate(BONES):
            if fused.views[k] != 1 or not np.all(np.isfinite(points[[parent, k]])):
                continue
            (name,) = [n for n, used in fused.used_by.items() if used[k]]
            view = by_name[name]
            if view.measured[k]:
                continue
            origin, direction = ray_through_pixel(view.pixels[k], view.K, view.T_world_camera)
            placed = place_at_distance(origin, direction, points[parent], float(typical[bone]), points[k])
            if placed is not None and np.linalg.norm(placed - points[k]) < HIDDEN_MAX_MOVE_M:
                points[k] = placed
        return points

    def observe_all(self, frames: list[CameraFrame], stamp: float | None = None) -> list[CameraHand | None]:
        """`observe` on each frame of one moment (the cameras in parallel threads when configured);
        what `prefetch` started for these very frames is taken instead."""
        if self._prefetched is not None:
            started, futures = self._prefetched
            if len(started) == len(frames) and all(a is b for a, b in zip(started, frames, strict=True)):
                self._prefetched = None
                return [future.result() for future in futures]
            self._drop_prefetched()
            raise ValueError("HandTracker.update got other frames than the ones prefetch() started on: "
                             "prefetch only the moment that is updated next")
        if self._pool is not None and len(frames) > 1:
            return list(self._pool.map(self.observe, frames, [stamp] * len(frames)))
        return [self.observe(frame, stamp) for frame in frames]

    def prefetch(self, frames: list[CameraFrame], stamp: float | None = None) -> None:
        """Start MediaPipe and depth lifting on the next moment's frames in the camera threads and
        return at once; the next `update` must be given these frames and takes what was found. Why:
        the caller's own work on the current moment (the objects) then runs while MediaPipe looks
        at the next one, instead of one after the other. The results are the same: each camera's
        frames still go through its landmarker one by one, in order. Without camera threads this
        does nothing."""
        if self._pool is None or self._prefetched is not None:
            return
        self._prefetched = (list(frames), [self._pool.submit(self.observe, frame, stamp) for frame in frames])

    def _drop_prefetched(self) -> None:
        """Wait for a prefetch nobody will take (its landmarkers must not run under a reset)."""
        if self._prefetched is not None:
            for future in self._prefetched[1]:
                future.exception()
            self._prefetched = None

    def update(self, frames: list[CameraFrame], stamp: float,
               reverse: dict[str, CameraHand | None] | None = None,
               upcoming: tuple[float, list[CameraFrame]] | None = None) -> HandEstimate:
        """One moment: the frames of the cameras that delivered (any subset of the rig).

        reverse: per camera, what MediaPipe saw in this frame when run from the recording's end
        backwards (reverse_pass.py, offline only): another view of that camera for the fusion.
        upcoming: the next moment's (stamp, frames), when known: `prefetch`ed as soon as this moment's
        landmarks are in, so that MediaPipe works on them during the fusion and whatever the
        caller does next."""
        seen: dict[str, CameraHand] = {}
        views = []
        observed = [(frame.name, frame, hand) for frame, hand in zip(frames, self.observe_all(frames, stamp),
                                                                      strict=True)]
        if upcoming is not None:
            self.prefetch(upcoming[1], upcoming[0])
        if reverse:
            observed += [(frame.name + REVERSE_SUFFIX, frame, reverse.get(frame.name)) for frame in frames]
        expected = self.expected_side()
        for name, frame, hand in observed:
            if hand is None or not np.isfinite(hand.points_world).any():
                continue
            rng = np.linalg.norm(hand.points_world - frame.T_world_camera[:3, 3], axis=1)
            if np.nanmedian(rng) > MAX_DEPTH_M:  # plausibility: no hand is tracked that far away
                continue
            seen[name] = hand
            confidence = hand.landmarks.score
            if expected and hand.landmarks.frame_side != expected:
                confidence *= WRONG_SIDE_FACTOR
            views.append(CameraView(name, hand.landmarks.pixels, hand.points_world, hand.lifted.measured,
                                    confidence, frame.K, frame.T_world_camera))
        recent = self._last if stamp - self._last_stamp <= RECENT_S else None
        fused: FusedHand = self._refine_bones(fuse_views(views, recent, self.config.fusion))
        points, confidence = self._place_wrist(fused, views)
        points = self._place_hidden(fused, views, points)
        if np.isfinite(points).any():
            confidence = self._bone_check(points, confidence)
        valid = confidence > 0
        filtered = self.filter(points, stamp, valid)
        if valid.any():
            self._last, self._last_stamp = np.where(valid[:, None], filtered, np.nan), stamp
        kept = {name: hand for name, hand in seen.items() if name not in fused.rejected_cameras}
        cameras = {name: hand for name, hand in kept.items() if not name.endswith(REVERSE_SUFFIX)}
        for name, hand in kept.items():  # a camera seen in reverse only: its reverse view stands for it
            cameras.setdefault(name.removesuffix(REVERSE_SUFFIX), hand)
        for hand in seen.values():
            self._side_vote = SIDE_VOTE_DECAY * self._side_vote + (
                hand.landmarks.score if hand.landmarks.frame_side == "right" else -hand.landmarks.score)
        confidences = [v.confidence for v in views if v.name in kept]
        hand_conf = max(confidences, default=0.0) if valid.any() else 0.0
        side = self.expected_side() or ("right" if self._side_vote >= 0 else "left") if seen else ""
        return HandEstimate(stamp, filtered, np.where(valid, confidence, 0.0), points, float(hand_conf),
                            side, cameras, fused.rejected_cameras)

    def expected_side(self) -> str:
        """The person's hand: the configured side, else the vote once it is clear ('' before)."""
        if self.config.side != "auto":
            return self.config.side
        if abs(self._side_vote) < 2.0:
            return ""
        return "right" if self._side_vote > 0 else "left"

    def close(self) -> None:
        self._drop_prefetched()
        if self._pool is not None:
            self._pool.shutdown()
        for landmarker in self.landmarkers.values():
            landmarker.close()


def empty_keypoints() -> np.ndarray:
    return np.full((NUM_KEYPOINTS, 3), np.nan)


def _wrist_bones_off(bad: np.ndarray) -> bool:
    """Most (3 of 5) of the wrist's bones are off: the wrist is, not each knuckle."""
    return bool(bad[WRIST_BONES].sum() >= 3)
