"""The default object pose estimator: segmentation, global registration, ICP, tracking, re-detection.

Per `update` (one instant, any number of depth views):
1. scene points of all views in `world` (hand pixels excluded: with the hand's keypoints only those
   of the views' hand masks whose points are near the hand in 3D, since a mask grown around the
   hand also covers what it holds), the table plane removed, the hand's keypoints' neighbourhood
   removed when given, a voxel grid;
2. objects in order of size (largest first); each object's points explained by its estimate are
   taken out of the pool before the next, so a banana inside a mug is not taken for mug;
3. a tracked object: its points near the predicted pose (last pose plus last motion), GICP from the
   prediction (coarse, then fine), scored (registration.py), restarted from nearby poses when the
   confidence drops; if it falls below `lost_confidence` (or below `doubt_confidence` and clearly
   below the last frame's: the object was put somewhere else), it is re-detected at once and the
   better of the two kept;
4. detection (first frame, or lost): clusters of the remaining points, object-sized ones first,
   then spread-out points of larger ones (an arm) in turn; per place, hypotheses (the object
   resting on the table at 12 headings, plus seeded random rotations) each refined by a coarse
   GICP, the best few by a fine one, then half-turn variants of the winner (an object that is
   nearly symmetric, like the mustard bottle with its off-centre cap) checked too; places are
   compared by confidence, since a bigger place offers a wrong pose more inliers;
5. the hand (when its keypoints are given): an object at the hand is predicted where the palm's
   rigid motion since the object was last found carries it (resting on the table: left there or
   lifted, both tried); lost there (hidden by the fingers), it is looked for only near that
   prediction, poses below `lost_confidence` or more than `held_max_step_m` from it are not
   taken (the arm and fingers offer surfaces to fit), and it is reported where the hand carries it
   with a decaying confidence. A frame without the hand leaves an object in the air held. Those
   bounds give way where the points refute the prediction (a pose within `held_max_step_m` that
   outranks it there by `refute_margin`): the perceived palm's motion drifts;
6. an object with a spin axis (the mug: symmetric but for its handle, symmetry.py): every pose
   found is turned about the axis in `spin_steps` steps and the turn the handle's own points
   clearly favour taken, else the turn nearest the track's last pose (ICP cannot bring a handle
   back from the fingers, and a hidden handle says nothing).
Objects not found this instant (and not carried by the hand) are left out of the result.

When every object is tracked, step 1 is done only inside each view's pixels around the objects'
predictions (as far as step 3 crops); an update that turns out to need a search (step 4) starts
again on the whole scene. The poses are the whole-scene update's (within 0.02 mm on the recordings
measured; `TrackerConfig.regional` switches it off), at about a fifth less of the estimator's time
on a recording where the objects stay in view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dexmv_perception.objects.backend import ObjectPoseEstimate
from dexmv_perception.objects.depth_view import DepthView, PixelBox
from dexmv_perception.objects.registration import (
    ModelCloud,
    PoseScore,
    confidence,
    fitness,
    icp,
    scene_cloud,
    score_pose,
    visibility,
)
from dexmv_perception.objects.segmentation import (
    TABLE_FRAME_PLANE,
    Plane,
    clusters,
    fit_table_plane,
    narrow_hand_mask,
    points_near_hand,
    scene_points,
    voxel_downsample,
)
from dexmv_perception.objects.symmetry import (
    rotation_angle_deg,
    rotation_error_deg,
    spin_axis,
    spin_feature,
    turn_about,
)
from dexmv_perception.rigid_fit import rigid_motion


class ObjectTrackerError(ValueError):
    """Unknown object ids or unusable arguments; the message names them."""


@dataclass(frozen=True)
class TrackerConfig:
    """Tuning of the default estimator (metres)."""

    pixel_stride: int = 2  # use every n-th row and column of the depth images
    voxel_m: float = 0.004  # scene voxel grid
    coarse_voxel_m: float = 0.008  # scene voxel grid for detection hypotheses
    table_margin_m: float = 0.007  # points this close above the table are the table
    table_penetration_m: float = 0.005  # a pose whose model reaches deeper into the table is lifted out
    table_refit_every: int = 30  # updates between fits of the table plane
    max_range_m: float = 2.0
    hand_radius_m: float = 0.018  # around the hand keypoints' bones
    masked_hand_radius_m: float = 0.025  # a view's hand mask is kept this close to the bones (keypoints are 1-3 cm off)
    masked_forearm_radius_m: float = 0.07  # ... and this close to the forearm's line
    forearm_length_m: float = 0.25  # beyond the wrist, away from the middle finger's MCP
    forearm_radius_m: float = 0.05
    crop_margin_m: float = 0.03  # around the predicted object when tracking
    inlier_m: float = 0.006
    track_correspondence_m: float = 0.03
    fine_correspondence_m: float = 0.01
    lost_confidence: float = 0.3  # below: re-detect
    doubt_confidence: float = 0.6  # below, and clearly below the last frame's: re-detect too, keep the better
    dropped_min_fall_m: float = 0.03  # a held object unseen, found this far below the hand's carry: let go
    recheck_drop: float = 0.92  # confidence below this share of the last frame's: try other ICP starts
    recheck_turn_deg: float = 12.0
    spin_steps: int = 12  # turns tried about an object's spin axis (symmetry.py)
    spin_every: int = 5  # ... on every update at the hand, on every n-th away from it
    spin_min_evidence: float = 25.0  # a turn is taken over the track's own where its feature (the handle)
    # has this much more evidence (points on it + its surface seen - 4 x seen through)
    spin_margin: float = 0.1  # ... and its whole pose scores no worse than this share below the found one
    min_confidence: float = 0.15  # below: not reported
    detect_headings: int = 12
    detect_random_rotations: int = 24
    redetect_random_rotations: int = 8  # for a track just lost (the object was seen a moment ago, mostly upright)
    detect_keep: int = 6
    detect_max_seeds: int = 6  # places (cluster centres or points of big clusters) tried per detection
    detect_accept_confidence: float = 1.01  # a place whose pose is this confident ends the search
    cluster_gap_m: float = 0.012
    held_distance_m: float = 0.04  # an object this close to a hand keypoint (beyond its radius) moves with the hand
    max_step_m: float = 0.02  # a lost object is looked for within its radius plus this per update since seen
    # (beyond its predicted motion: carried by the hand when held)
    held_max_step_m: float = 0.06  # ... but in the hand never further than this from where the hand carries it
    held_max_turn_deg: float = 60.0  # a palm turned further since the object was found is a mirrored fit
    refute_margin: float = 0.3  # a held object's pose beyond those limits is taken where it outranks its
    # prediction by this share of its ranking (the data refute the prediction)
    held_max_flip_deg: float = 120.0  # a held object turned further from its prediction is not taken (a
    # half-turn); a smaller bound kept ICP's slow drift: the right pose, back, was then too far to take
    nearby_search_m: float = 0.1  # a lost object away from the hand is looked for this far first
    held_stale_updates: int = 6  # a held object unseen this long is no longer surely where the palm's
    # perceived motion carries it: looked for nearby, taken clearly seen at the hand or on the table
    held_redetect_every: int = 3  # updates between searches for an object unseen
    unseen_decay: float = 0.9  # per update unseen, the kept pose's reported confidence falls by this factor
    keep_lost_updates: int = 45  # after this many updates unseen, a lost object is looked for everywhere
    min_cluster_points: int = 30
    regional: bool = True  # objects tracked where predicted: build the scene only around them (whole
    # scene when one must be searched for); False: the whole scene on every update (same poses, slower)

    def __post_init__(self) -> None:
        """Refuse settings the tracker would divide by, loop zero times over, or compare nonsensically."""
        for name in _POSITIVE_COUNTS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TrackerConfig.{name} must be a whole number >= 1, got {value!r}")
        for name in ("detect_random_rotations", "redetect_random_rotations", "keep_lost_updates",
                     "held_stale_updates", "min_cluster_points"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"TrackerConfig.{name} must be a whole number >= 0, got {value!r}")
        for name, value in vars(self).items():
            if isinstance(value, float) and not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"TrackerConfig.{name} must be finite and >= 0, got {value!r}")
        for name in _POSITIVE_LENGTHS:
            if getattr(self, name) <= 0.0:
                raise ValueError(f"TrackerConfig.{name} must be > 0 m, got {getattr(self, name)!r}")
        for name in ("lost_confidence", "doubt_confidence", "recheck_drop", "min_confidence", "unseen_decay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"TrackerConfig.{name} is a confidence share in [0, 1], got {getattr(self, name)!r}")


# TrackerConfig's fields that count steps, turns or updates and must be at least one
_POSITIVE_COUNTS = ("pixel_stride", "table_refit_every", "spin_steps", "spin_every", "detect_headings",
                    "detect_keep", "detect_max_seeds", "held_redetect_every")
# ... and the lengths that must not be zero (grid sizes, radii, correspondence distances)
_POSITIVE_LENGTHS = ("voxel_m", "coarse_voxel_m", "max_range_m", "hand_radius_m", "masked_hand_radius_m",
                     "inlier_m", "track_correspondence_m", "fine_correspondence_m", "cluster_gap_m")


@dataclass
class _Track:
    pose: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    confidence: float = 0.0
    missed: int = 0  # updates since the object was last found
    held: bool = False  # in the hand at the last update
    found_pose: np.ndarray | None = None  # where it was last found ...
    found_palm: np.ndarray | None = None  # ... and the palm's keypoints (wrist, MCPs) then, when known


@dataclass(frozen=True)
class _SpinFeature:
    """What the turn search needs of an object with a spin axis (symmetry.py), in its model frame."""

    direction: np.ndarray  # the axis ...
    point: np.ndarray  # ... and a point on it
    tree: object  # KD-tree of the model's feature points (the handle)
    checked: np.ndarray  # (len(check_points),) bool: which of the visibility check points are the feature's


class _WholeSceneNeeded(Exception):
    """An update around the tracked objects found one that must be searched for in the whole scene;
    `tracked` holds what tracking gave for the objects so far (the whole scene's update would get
    the same from the same points, so it takes them instead of tracking again)."""

    def __init__(self, tracked: dict) -> None:
        super().__init__()
        self.tracked = tracked


_NARROW_MARGIN_PX = 8  # the hand mask is narrowed this far beyond a scene box: its dilation reaches in

_HALF_TURNS = (np.diag([-1.0, -1.0, 1.0]), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]))


class ObjectTracker:
    """Track the 6-DoF poses of `object_ids` (YCB ids, e.g. "006_mustard_bottle") in depth views.

    scales: per object id, the uniform scale the object has in the scene (place_inside's mug is
    twice its size); default 1. mesh_dir: real YCB meshes, as given to the simulation. seed: the
    random draws of plane fitting and detection (results are deterministic per seed).
    """

    def __init__(self, object_ids: Sequence[str], seed: int = 0, *, scales: dict[str, float] | None = None,
                 config: TrackerConfig | None = None, mesh_dir: str | None = None) -> None:
        from dexmv_sim.objects import OBJECT_IDS

        ids = list(object_ids)
        unknown = [o for o in ids if o not in OBJECT_IDS]
        if unknown or not ids or len(set(ids)) != len(ids):
            raise ObjectTrackerError(f"object_ids must be distinct task objects ({', '.join(OBJECT_IDS)}); got {ids}")
        scales = dict(scales or {})
        bad = {k: v for k, v in scales.items() if k not in ids or not (0.1 <= float(v) <= 10.0)}
        if bad:
            raise ObjectTrackerError(f"scales must be for tracked objects and within 0.1-10: {bad}")
        self.object_ids = ids
        self.seed = int(seed)
        self.scales = {o: float(scales.get(o, 1.0)) for o in ids}
        self.config = config or TrackerConfig()
        self.mesh_dir = mesh_dir
        self._models: dict[str, ModelCloud] = {}
        self._spin_features: dict[str, _SpinFeature | None] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every track and the table plane (a new recording or episode)."""
        self._tracks: dict[str, _Track] = {}
        self._plane: Plane | None = None
        self._palm: np.ndarray | None = None  # last update's palm keypoints (wrist, MCPs), world
        self._palm_all: np.ndarray | None = None  # and all its finite keypoints
        self._updates = 0
        self.regional_updates = 0  # updates done around the tracked objects only (see update)
        self._rng = np.random.default_rng(self.seed)

    def prepare(self) -> None:
        """Build every tracked object's point model now (otherwise on the first update)."""
        for object_id in self.object_ids:
            self.model(object_id)

    def model(self, object_id: str) -> ModelCloud:
        if object_id not in self._models:
            from dexmv_perception.objects.point_models import object_point_model

            self._models[object_id] = ModelCloud(object_point_model(object_id, self.scales[object_id], self.mesh_dir))
        return self._models[object_id]

    # ------------------------------------------------------------------------------- the scene
    def _hand_keypoints(self, hand_keypoints: np.ndarray | None) -> np.ndarray | None:
        if hand_keypoints is None:
            return None
        kp = np.asarray(hand_keypoints, dtype=float)
        if kp.shape != (21, 3):
            raise ObjectTrackerError(f"hand_keypoints must be (21, 3), got {kp.shape}")
        return kp if np.isfinite(kp).all(axis=1).any() else None

    def _narrow_masks(self, views: Sequence[DepthView], kp: np.ndarray | None,
                      boxes: Sequence[PixelBox | None] | None = None) -> list[DepthView]:
        """The views' hand masks narrowed to the hand in 3D, when the hand's keypoints are known:
        the object a hand holds lies mostly inside its grown 2D hull (a grasped mug lost 97 % of
        its points to it), and a hidden object cannot be tracked. With `boxes`, inside them only
        (grown by the margin the scene's mask dilation reaches)."""
        if kp is None:
            return list(views)
        cfg = self.config
        if boxes is None:
            boxes = [None] * len(views)
        return [narrow_hand_mask(v, kp, cfg.masked_hand_radius_m, cfg.masked_forearm_radius_m,
                                 box=None if b is None else (b[0] - _NARROW_MARGIN_PX, b[1] + _NARROW_MARGIN_PX,
                                                             b[2] - _NARROW_MARGIN_PX, b[3] + _NARROW_MARGIN_PX))
                for v, b in zip(views, boxes, strict=True)]

    def _scene(self, views: Sequence[DepthView], kp: np.ndarray | None,
               boxes: Sequence[PixelBox | None] | None = None) -> np.ndarray:
        cfg = self.config
        if boxes is None:
            pts = scene_points(views, stride=cfg.pixel_stride, max_range_m=cfg.max_range_m)
            if len(pts) == 0:
                return pts
            if self._refit_due():
                self._plane = fit_table_plane(pts, self._rng) or self._plane or TABLE_FRAME_PLANE
        else:  # around the tracked objects only (the table not refitted: see update)
            pts = scene_points(views, stride=cfg.pixel_stride, max_range_m=cfg.max_range_m, boxes=boxes)
        self._updates += 1
        plane = self._plane
        pts = pts[plane.height(pts) > cfg.table_margin_m]
        if kp is not None and len(pts):
            pts = pts[~points_near_hand(pts, kp, cfg.hand_radius_m, cfg.forearm_radius_m, cfg.forearm_length_m)]
        return voxel_downsample(pts, cfg.voxel_m)

    def _refit_due(self) -> bool:
        return self._plane is None or self._updates % self.config.table_refit_every == 0

    # ------------------------------------------------------------------------------ per object
    def _predict(self, object_id: str, track: _Track) -> tuple[np.ndarray, bool, np.ndarray | None]:
        """Where the object is expected now, whether it is in the hand, and where the hand carries it:
        the pose it was last found in, moved by the palm's rigid motion since then (a grasped object
        hidden by the fingers has few points of its own to follow, and may stay hidden for frames).
        In the air an object at the hand is where the hand carries it; resting on the table it may
        be left (a hand reaching or letting go) or lifted (the hand's first move up), so both are
        returned; away from the hand it moves on by its last motion."""
        held = False
        resting = self._resting(object_id, track.pose)
        if self._palm_all is not None:
            held = self._at_hand(object_id, track.pose)
        elif track.held and not resting:
            # the hand not perceived this instant (a frame MediaPipe missed): an object that was in
            # it and is still in the air is in it yet, and cannot be across the table next frame
            held = True
        carried = None
        if held and self._palm is not None and track.found_palm is not None:
            motion = rigid_motion(track.found_palm, self._palm)
            if rotation_angle_deg(motion[:3, :3]) > self.config.held_max_turn_deg:
                # no hand turns that far between two looks at it: the palm's keypoints were fitted
                # mirrored (MediaPipe confuses palm and back), which turned a held mug half round
                motion[:3, :3] = np.eye(3)
                motion[:3, 3] = self._palm.mean(axis=0) - track.found_palm.mean(axis=0)
            carried = motion @ track.found_pose
        predicted = track.pose.copy()
        predicted[:3, 3] += track.velocity
        if carried is not None and not resting:
            return carried, True, None
        return predicted, held, carried

    def _turned(self, object_id: str, pose: np.ndarray, expected: list[np.ndarray]) -> bool:
        """Whether `pose` is turned more than `held_max_flip_deg` from every expected pose
        (symmetry-aware: a can turned about its axis is not turned)."""
        return min(rotation_error_deg(pose[:3, :3], p[:3, :3], object_id) for p in expected) \
            > self.config.held_max_flip_deg

    def _allowed_step(self, track: _Track, held: bool) -> float:
        """How far from its prediction an object may be found: `max_step_m` per update unseen, but
        never more than `held_max_step_m` in the hand, where the prediction follows the hand however
        long the object has been hidden (an unbounded allowance let a mug hidden for 0.8 s be
        taken 0.47 m away, on the arm)."""
        step = self.config.max_step_m * (track.missed + 1)
        return min(step, self.config.held_max_step_m) if held else step

    def _track(self, object_id: str, track: _Track, pool: np.ndarray, views: Sequence[DepthView],
               predicted: np.ndarray, also: np.ndarray | None = None) -> tuple[np.ndarray, PoseScore] | None:
        """ICP from the prediction (and from `also`, another place the object may be: a resting
        object at the hand may have been lifted by it) and, when worse than last frame, from nearby starts."""
        cfg, model = self.config, self.model(object_id)
        segment = pool[self._around(object_id, pool, [predicted] if also is None else [predicted, also])]
        if model.model.radius / 20.0 > cfg.voxel_m:
            segment = voxel_downsample(segment, model.model.radius / 20.0)
        if len(segment) < cfg.min_cluster_points:
            return None
        source = scene_cloud(segment)

        def refine(start: np.ndarray) -> tuple[np.ndarray, PoseScore]:
            pose = icp(model, source, start, cfg.track_correspondence_m, 20)
            pose = self._above_table(object_id, icp(model, source, pose, cfg.fine_correspondence_m, 30))
            return pose, score_pose(model, pose, segment, views, cfg.inlier_m)

        best = refine(predicted)
        if also is not None:
            other = refine(also)
            if other[1].ranking > best[1].ranking:
                best, predicted = other, also  # the restarts below turn about it
        if confidence(best[1]) < cfg.recheck_drop * track.confidence:
            # worse than last frame: ICP may have slid into a neighbouring minimum (an occluded handle,
            # a fast turn); restart from the last pose and from small turns about the object's axes
            starts = [track.pose]
            for axis in np.eye(3):
                for sign in (1.0, -1.0):
                    start = predicted.copy()
                    start[:3, :3] = predicted[:3, :3] @ _axis_rotation(axis, sign * cfg.recheck_turn_deg)
                    starts.append(start)
            for start in starts:
                candidate = refine(start)
                if candidate[1].ranking > best[1].ranking:
                    best = candidate
        return best

    def _around(self, object_id: str, pool: np.ndarray, poses: Sequence[np.ndarray]) -> np.ndarray:
        """(N,) bool: the pool's points within the object's radius plus `crop_margin_m` of any of
        the poses' origins (the points an object placed there could explain)."""
        reach = self.model(object_id).model.radius + self.config.crop_margin_m
        near = np.zeros(len(pool), dtype=bool)
        for pose in poses:
            near |= np.linalg.norm(pool - pose[:3, 3], axis=1) < reach
        return near

    def _spin_feature(self, object_id: str) -> _SpinFeature | None:
        """The spin feature of an object with a spin axis (symmetry.py), else None; built once."""
        if object_id not in self._spin_features:
            from scipy.spatial import cKDTree

            axis = spin_axis(object_id, self.scales[object_id])
            entry = None
            if axis is not None:
                model = self.model(object_id)
                # twice the inlier distance: points of the body beside the feature (the handle's
                # stubs at the wall) are never taken for the feature's
                reach = 2.0 * self.config.inlier_m
                feature = spin_feature(model.model.points, *axis, tolerance_m=reach)
                checked = spin_feature(model.check_points, *axis, surface=model.model.points, tolerance_m=reach)
                entry = _SpinFeature(*axis, cKDTree(model.model.points[feature]), checked)
            self._spin_features[object_id] = entry
        return self._spin_features[object_id]

    def _spin_evidence(self, object_id: str, pose: np.ndarray, segment: np.ndarray,
                       views: Sequence[DepthView]) -> float:
        """How much this update's points say for `pose`'s turn about the spin axis: the segment's
        points on the posed feature (the handle), its surface seen where the images show it, less
        four times where they see through it (ranking's weights, on the feature alone)."""
        spin = self._spin_feature(object_id)
        local = (segment - pose[:3, 3]) @ pose[:3, :3]
        dist, _ = spin.tree.query(local, distance_upper_bound=self.config.inlier_m)
        explained, violations, _ = visibility(self.model(object_id), pose, views, only=spin.checked)
        return float(np.count_nonzero(np.isfinite(dist)) + explained - 4.0 * violations)

    def _spin_resolve(self, object_id: str, found: tuple[np.ndarray, PoseScore], pool: np.ndarray,
                      views: Sequence[DepthView], last: np.ndarray | None) -> tuple[np.ndarray, PoseScore]:
        """For an object symmetric but for a small feature about an axis (the mug's handle): the found
        pose turned about that axis in `spin_steps` steps, each refined coarsely, and the turn the
        feature's evidence clearly favours taken: by `spin_min_evidence` over the turn nearest the
        track's last pose (`last`; over the found pose without a track). Why: ICP cannot turn a mug
        whose handle it placed on the fingers back to the handle (the body fits every turn, no
        correspondence pulls it round), and with the handle hidden the whole model's score differs
        between turns by a few per cent either way, so the handle's own points decide, or nothing
        does and the turn stays as it was. The last pose, not the hand's carry, is that reference:
        the perceived palm's turn is off by tens of degrees in a pour (measured on 25 pours: the
        held mug's rotation error 49 -> 31 degrees with this search, 32 with the carry instead)."""
        cfg, spin = self.config, self._spin_feature(object_id)
        if cfg.spin_steps < 2 or spin is None:
            return found
        model = self.model(object_id)
        pose0 = found[0]
        segment = pool[self._around(object_id, pool, [pose0])]
        if len(segment) < cfg.min_cluster_points:
            return found
        coarse = scene_cloud(voxel_downsample(segment, self._coarse_voxel(object_id)), 8)
        turns = [pose0]
        for k in range(1, cfg.spin_steps):
            start = pose0 @ turn_about(spin.direction, spin.point, 360.0 * k / cfg.spin_steps)
            turns.append(icp(model, coarse, start, cfg.track_correspondence_m, 10, coarse=True))
        evidence = [self._spin_evidence(object_id, pose, segment, views) for pose in turns]
        anchor = 0 if last is None else min(range(len(turns)),
                                            key=lambda i: rotation_angle_deg(last[:3, :3].T @ turns[i][:3, :3]))
        choice = int(np.argmax(evidence))
        if evidence[choice] - evidence[anchor] < cfg.spin_min_evidence:
            choice = anchor
        if choice == 0:
            return found
        pose = icp(model, scene_cloud(segment), turns[choice], cfg.fine_correspondence_m, 30)
        pose = self._above_table(object_id, pose)
        score = score_pose(model, pose, segment, views, cfg.inlier_m)
        # a turn whose refinement slid off the body is no better a pose, whatever its feature says
        return (pose, score) if score.ranking >= found[1].ranking - cfg.spin_margin * abs(found[1].ranking) else found

    def _coarse_voxel(self, object_id: str) -> float:
        """The grid of coarse alignments (detection's hypotheses, the turn search): relative to the
        object's size, so a twice-as-big mug needs no more points than a mug."""
        return max(self.config.coarse_voxel_m, self.model(object_id).model.radius / 12.0)

    def _refutes(self, object_id: str, found: tuple[np.ndarray, PoseScore], expected: list[np.ndarray],
                 pool: np.ndarray, views: Sequence[DepthView]) -> bool:
        """Whether `found` explains this update's points around it and the expected poses clearly
        better than every expected pose does (by `refute_margin` of its ranking), and lies within
        `held_max_step_m` of one: evidence that the expectation, not the finding, is wrong. A half
        turn of a mug whose handle is hidden scores as its expectation does, so is not taken; the
        arm beyond the hand is further off than a hand can carry an object wrongly."""
        cfg, model = self.config, self.model(object_id)
        pose = found[0]
        if min(np.linalg.norm(pose[:3, 3] - p[:3, 3]) for p in expected) > cfg.held_max_step_m:
            return False
        segment = pool[self._around(object_id, pool, [pose, *expected])]
        mine = score_pose(model, pose, segment, views, cfg.inlier_m).ranking
        theirs = max(score_pose(model, p, segment, views, cfg.inlier_m).ranking for p in expected)
        return mine > 0 and mine - theirs > cfg.refute_margin * mine

    def _refound(self, object_id: str, found: tuple[np.ndarray, PoseScore], predicted: np.ndarray) -> bool:
        """Whether a pose found for a held object unseen a while is taken wherever its prediction
        was: clearly seen (the arm fits a partly hidden object's model at 0.6-0.85, so) at the hand's
        keypoints, resting on the table (put down unseen), or dropped from the hand (below where the
        hand carried it, within its radius sideways: a banana let go into a mug rests on neither the
        table nor the hand, and was looked for in vain until `keep_lost_updates` had passed)."""
        if confidence(found[1]) < self.config.doubt_confidence:
            return False
        pose = found[0]
        below = predicted[2, 3] - pose[2, 3] > self.config.dropped_min_fall_m and \
            np.linalg.norm(pose[:2, 3] - predicted[:2, 3]) < self.model(object_id).model.radius
        return self._resting(object_id, pose) or self._at_hand(object_id, pose) or bool(below)

    def _at_hand(self, object_id: str, pose: np.ndarray) -> bool:
        """Whether the posed object is close enough to this update's hand keypoints to be in the hand
        (False when no hand is perceived)."""
        if self._palm_all is None:
            return False
        gap = np.min(np.linalg.norm(self._palm_all - pose[:3, 3], axis=1))
        return bool(gap < self.model(object_id).model.radius + self.config.held_distance_m)

    def _resting(self, object_id: str, pose: np.ndarray) -> bool:
        """Whether the posed object touches the table (its lowest point within 1 cm of the plane)."""
        plane = self._plane or TABLE_FRAME_PLANE
        points = self.model(object_id).check_points @ pose[:3, :3].T + pose[:3, 3]
        return float(np.min(plane.height(points))) < 0.01

    def _above_table(self, object_id: str, pose: np.ndarray) -> np.ndarray:
        """The pose lifted out of the table when its model reaches more than `table_penetration_m`
        into it: an object partly hidden (a can's bottom behind the fingers, the table margin's
        points removed) can slide along its visible surface into the table at full confidence."""
        plane = self._plane or TABLE_FRAME_PLANE
        model = self.model(object_id)
        depth = -float(np.min(plane.height(model.check_points @ pose[:3, :3].T + pose[:3, 3])))
        if depth <= self.config.table_penetration_m:
            return pose
        lifted = pose.copy()
        lifted[:3, 3] += plane.normal * depth
        return lifted

    def _hypotheses(self, object_id: str, centre: np.ndarray, random_rotations: int) -> list[np.ndarray]:
        from scipy.spatial.transform import Rotation

        from dexmv_sim.objects import resting_height

        cfg = self.config
        plane = self._plane or TABLE_FRAME_PLANE
        out = []
        rest_z = resting_height(object_id, scale=self.scales[object_id])
        table_z = -plane.offset / plane.normal[2]
        for k in range(cfg.detect_headings):
            pose = np.eye(4)
            pose[:3, :3] = Rotation.from_rotvec([0.0, 0.0, 2 * np.pi * k / cfg.detect_headings]).as_matrix()
            pose[:3, 3] = [centre[0], centre[1], max(centre[2], table_z + rest_z)]
            out.append(pose)
        for rot in Rotation.random(random_rotations, random_state=self._rng.integers(2**31)).as_matrix():
            pose = np.eye(4)
            pose[:3, :3] = rot
            pose[:3, 3] = centre
            out.append(pose)
        return out

    def _detect(self, object_id: str, pool: np.ndarray, views: Sequence[DepthView],
                random_rotations: int | None = None,
                near: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, PoseScore] | None:
        """Global search; near=(point, distance): only places within `distance` of `point` (a track
        just lost: the object cannot have jumped across the table)."""
        cfg, model = self.config, self.model(object_id)
        radius = model.model.radius
        if near is not None:
            pool = pool[np.linalg.norm(pool - near[0], axis=1) < near[1] + radius + cfg.crop_margin_m]
            if len(pool) < cfg.min_cluster_points:
                return None
        best: tuple[float, np.ndarray, PoseScore] | None = None
        # grids relative to the object's size: a twice-as-big mug needs no more points than a mug
        coarse_voxel = self._coarse_voxel(object_id)
        fine_voxel = max(cfg.voxel_m, radius / 20.0)
        coarse_pool = voxel_downsample(pool, coarse_voxel)
        # places to try: first the centres of object-sized clusters (largest first), then spread-out
        # points of clusters larger than the object (an arm, a pile, a cluster merged with a neighbour),
        # taken in turn from each such cluster, so that a forearm with many points cannot use up
        # every try before a compact cluster is looked at
        compact: list[np.ndarray] = []
        spread: list[list[np.ndarray]] = []
        for idx in clusters(coarse_pool, cfg.cluster_gap_m, max(8, cfg.min_cluster_points // 3)):
            members = coarse_pool[idx]
            extent = float(np.linalg.norm(members.max(axis=0) - members.min(axis=0)))
            if extent < 0.2 * model.model.diameter:
                continue
            if extent <= 1.3 * model.model.diameter:
                compact.append(members.mean(axis=0))
            else:
                count = max(2, min(6, int(extent / radius)))
                spread.append(list(members[_farthest_points(members, count, self._rng)]))
        seeds = compact + [s[k] for k in range(max(map(len, spread), default=0)) for s in spread if k < len(s)]
        if near is not None:
            seeds = [p for p in seeds if np.linalg.norm(p - near[0]) < near[1]]
        for seed_point in seeds[:cfg.detect_max_seeds]:
            segment = pool[np.linalg.norm(pool - seed_point, axis=1) < radius + cfg.crop_margin_m]
            if fine_voxel > cfg.voxel_m:
                segment = voxel_downsample(segment, fine_voxel)
            if len(segment) < cfg.min_cluster_points:
                continue
            # the cameras see the near half of the object: its centre lies behind the points' mean
            centre = segment.mean(axis=0)
            away = np.mean([centre - v.camera_position() for v in views], axis=0)
            centre = centre + away / max(np.linalg.norm(away), 1e-9) * 0.4 * radius
            coarse = voxel_downsample(segment, coarse_voxel)
            if len(coarse) < 12:
                continue
            coarse_src = scene_cloud(coarse, 8)
            reach = max(cfg.track_correspondence_m, 0.35 * radius)  # a big object starts further off
            ranked = []
            rotations = cfg.detect_random_rotations if random_rotations is None else random_rotations
            for pose in self._hypotheses(object_id, centre, rotations):
                pose = icp(model, coarse_src, pose, reach, 10, coarse=True)
                pose = icp(model, coarse_src, pose, cfg.track_correspondence_m, 10, coarse=True)
                _, _, n, _ = fitness(model, pose, coarse, cfg.inlier_m * 1.5)
                ranked.append((n, pose))
            ranked.sort(key=lambda item: -item[0])
            source = scene_cloud(segment)
            candidates = [icp(model, source, pose, cfg.track_correspondence_m, 15)
                          for _, pose in ranked[:cfg.detect_keep]]
            winner = max(candidates, key=lambda p: score_pose(model, p, segment, views, cfg.inlier_m).ranking)
            winner = icp(model, source, winner, cfg.fine_correspondence_m, 30)
            candidates.append(winner)
            for flip in _HALF_TURNS:
                variant = winner.copy()
                variant[:3, :3] = winner[:3, :3] @ flip
                variant = icp(model, source, variant, cfg.fine_correspondence_m, 30)
                candidates.append(variant)
            # within a place the ranking (counts) decides; between places the confidence (shares), since
            # a place with more points (an arm) offers more inliers to a wrong pose
            candidates = [self._above_table(object_id, pose) for pose in candidates]
            scored = [(score.ranking, pose, score) for pose in candidates
                      for score in [score_pose(model, pose, segment, views, cfg.inlier_m)]]
            here = max(scored, key=lambda item: item[0])
            if best is None or confidence(here[2]) > confidence(best[2]):
                best = here
            if confidence(best[2]) >= cfg.detect_accept_confidence:
                break  # good enough: the remaining places cannot matter much, and each costs ~0.2 s
        return None if best is None else (best[1], best[2])

    # ----------------------------------------------------------------------------------- public
    def update(self, views: Sequence[DepthView], hand_keypoints: np.ndarray | None = None) -> list[ObjectPoseEstimate]:
        """Poses of the tracked objects seen in `views` (one instant); `hand_keypoints` (21, 3) in
        world, when known, remove the hand's points besides the views' masks."""
        if not views:
            return []
        for k, view in enumerate(views):
            if not isinstance(view, DepthView):
                raise ObjectTrackerError(f"views[{k}] is a {type(view).__name__}, expected a DepthView")
        kp = self._hand_keypoints(hand_keypoints)
        self._see_hand(kp)
        # predicted before the scene only when the table is not refitted (a prediction asks whether
        # the object rests on it), i.e. when an update around the objects may be tried
        predictions = self._predictions() if self.config.regional and not self._refit_due() else {}
        boxes = self._track_boxes(views, predictions)
        tracked: dict = {}
        if boxes is not None:
            tracks, updates = dict(self._tracks), self._updates
            try:
                estimates = self._estimate(views, kp, boxes, predictions)
                self.regional_updates += 1
                return estimates
            except _WholeSceneNeeded as need:
                self._tracks, self._updates, tracked = tracks, updates, need.tracked
        return self._estimate(views, kp, None, predictions, tracked)

    def _predictions(self) -> dict[str, tuple[np.ndarray, bool, np.ndarray | None]]:
        return {object_id: self._predict(object_id, track) for object_id, track in self._tracks.items()}

    def _track_boxes(self, views: Sequence[DepthView], predictions: dict) -> list[PixelBox] | None:
        """Per view, the pixels where every tracked object can be found this update (around its
        predictions, as far as `_track` crops), or None when the whole scene is needed: an object
        not tracked yet, the table's refit due, an object's region reaching the camera."""
        cfg = self.config
        if not cfg.regional or self._refit_due() or any(o not in predictions for o in self.object_ids):
            return None
        if any(t.missed and t.missed % cfg.held_redetect_every == 0 for t in self._tracks.values()):
            return None  # an object unseen is due to be searched for
        spheres = []
        for object_id, (predicted, _, lifted) in predictions.items():
            radius = self.model(object_id).model.radius + cfg.crop_margin_m
            spheres += [(p[:3, 3], radius) for p in (predicted, lifted) if p is not None]
        boxes = []
        for view in views:
            parts = [view.sphere_box(centre, radius, pad_px=2) for centre, radius in spheres]
            if any(b is None for b in parts):
                return None
            boxes.append((min(b[0] for b in parts), max(b[1] for b in parts),
                          min(b[2] for b in parts), max(b[3] for b in parts)))
        return boxes

    def _estimate(self, views: Sequence[DepthView], kp: np.ndarray | None, boxes: list[PixelBox] | None,
                  predictions: dict, tracked: dict | None = None) -> list[ObjectPoseEstimate]:
        """One update's poses, from the whole scene or (`boxes`) from around the tracked objects
        only: most updates track objects that are where they were predicted, and building the whole
        scene (points, the hand's mask narrowed in 3D) is much of the estimator's time. An update
        that must search for an object raises _WholeSceneNeeded there, before anything is kept;
        `predictions`: `_predict`'s results made before the scene (missing ones are made here);
        `tracked`: what such an update's tracking gave, taken instead of tracking again."""
        cfg = self.config
        views = self._narrow_masks(views, kp, boxes)
        pool = self._scene(views, kp, boxes)
        done: dict = {}  # what tracking gave, for the whole scene's update should this one need it
        order = sorted(self.object_ids, key=lambda o: -self.model(o).model.diameter)
        results = []
        for object_id in order:
            track = self._tracks.get(object_id)
            predicted, held, lifted = (None, False, None) if track is None else \
                predictions[object_id] if object_id in predictions else self._predict(object_id, track)
            expected = [predicted] if lifted is None else [predicted, lifted]  # where a track may be found
            found, stale, searched = None, False, False
            if boxes is not None or len(pool) >= cfg.min_cluster_points:
                if tracked and object_id in tracked:
                    found = tracked[object_id]
                else:
                    found = self._track(object_id, track, pool, views, predicted, lifted) if track is not None else None
                    if boxes is not None:
                        done[object_id] = found
                weak = found is None or confidence(found[1]) < cfg.lost_confidence or (
                    confidence(found[1]) < cfg.doubt_confidence
                    and confidence(found[1]) < cfg.recheck_drop * track.confidence)
                # an object unseen is kept where expected (carried by the hand's motion when held)
                # meanwhile; looking for it costs 0.5-2 s, so only every few updates
                if weak and track is not None and track.missed % cfg.held_redetect_every:
                    weak = False
                # in the hand but unseen for long: its predicted pose, carried by the palm's perceived
                # motion, may have drifted off (a pour's mug, lost in the tip-back, was seen at 0.61-0.75
                # confidence 2 cm from where it was, 8-11 cm from its prediction, and refused as a jump
                # all the way down to the table): looked for nearby, taken when clearly seen at the hand
                # or resting on the table, wherever the palm's motion put it
                stale = track is not None and held and track.missed >= cfg.held_stale_updates
                if weak and boxes is not None:
                    raise _WholeSceneNeeded(done)
                if weak:
                    # a lost track is looked for near where it was first: far away there may be the
                    # arm or another object that fits as well as the partly hidden object does. In
                    # the hand only there; otherwise (put down unseen, pushed) everywhere next
                    radius = self.model(object_id).model.radius
                    rotations = None if track is None else cfg.redetect_random_rotations
                    near = None
                    if stale:
                        near = (predicted[:3, 3], radius + cfg.nearby_search_m)
                    elif track is not None and held and track.missed < cfg.keep_lost_updates:
                        near = (predicted[:3, 3], radius + self._allowed_step(track, held))
                    elif track is not None:
                        near = (predicted[:3, 3], radius + cfg.nearby_search_m)
                    detected = self._detect(object_id, pool, views, rotations, near)
                    if not held and near is not None and (
                            detected is None or confidence(detected[1]) < cfg.lost_confidence):
                        everywhere = self._detect(object_id, pool, views, rotations)
                        if everywhere is not None and (detected is None
                                                       or confidence(everywhere[1]) > confidence(detected[1])):
                            detected = everywhere
                    if detected is not None and (found is None or confidence(detected[1]) > confidence(found[1])) \
                            and not (held and self._turned(object_id, detected[0], expected)
                                     and not (stale and self._refound(object_id, detected, predicted))
                                     and not self._refutes(object_id, detected, expected, pool, views)):
                        found, searched = detected, True
            # the turn about a spin axis is searched on every update where it may go wrong (a new or
            # searched pose, an object unseen, one at the hand: fingers fit a handle), and on every
            # `spin_every`-th one elsewhere (a mug put down turned wrong is put right soon after the
            # hand leaves; searching an untouched mug every update took a third of place_inside's time)
            if found is not None and (track is None or searched or track.missed or held
                                      or self._at_hand(object_id, found[0])
                                      or self._updates % cfg.spin_every == 0):
                found = self._spin_resolve(object_id, found, pool, views, None if track is None else track.pose)
            # a tracked object's pose below lost_confidence is not taken: from a mostly hidden object
            # ICP and re-detection slide onto whatever is near, and the next frame would start there.
            # In the hand, a doubtful pose that leaves the hand's motion is not taken either: the
            # fingers and the arm, not all removed, offer a held object's model surfaces to fit
            floor = cfg.min_confidence if track is None else cfg.lost_confidence
            # Nor is a pose away from the prediction below doubt_confidence (a jump needs clear
            # evidence), nor in the hand at all: an object held cannot be far from where the hand
            # carries it, and the arm fits a partly hidden object's model at 0.6-0.85
            jumped = track is not None and found is not None and min(
                np.linalg.norm(found[0][:3, 3] - p[:3, 3]) for p in expected) > self._allowed_step(track, held)
            refound = stale and found is not None and self._refound(object_id, found, predicted)
            # ... unless this update's points refute the expectation: the hand's perceived motion
            # drifts (its palm keypoints are 1-3 cm off, sometimes mirrored), and a carried prediction
            # that drifted refused the object seen where it was, at twice the prediction's score,
            # for a second and more (a pour's mug)
            turned = held and found is not None and self._turned(object_id, found[0], expected)
            refuted = held and found is not None and (jumped or turned) \
                and self._refutes(object_id, found, expected, pool, views)
            if jumped and ((held and not refound and not refuted) or confidence(found[1]) < cfg.doubt_confidence):
                found = None
            if found is not None and turned and not refound and not refuted:
                found = None  # nor turned half round from how the hand holds it (either way fits a mug's body)
            if found is None or confidence(found[1]) < floor:
                if track is not None and track.missed < cfg.keep_lost_updates:
                    # not seen now (hidden by the hand, out of view): kept where it is expected (carried
                    # by the hand when held); in the hand reported while its decayed confidence is
                    # worth reporting
                    kept = _Track(predicted, np.zeros(3), track.confidence, track.missed + 1, held,
                                  track.found_pose, track.found_palm)
                    self._tracks[object_id] = kept
                    conf = track.confidence * cfg.unseen_decay ** kept.missed
                    if held and conf >= cfg.min_confidence:
                        results.append(ObjectPoseEstimate(object_id, predicted.copy(), conf, 0.0, 0.0))
                else:
                    self._tracks.pop(object_id, None)
                continue
            pose, score = found
            conf = confidence(score)
            velocity = (pose[:3, 3] - track.pose[:3, 3]) / (track.missed + 1) \
                if track is not None and not jumped else np.zeros(3)
            self._tracks[object_id] = _Track(pose, velocity, conf, 0, held, pose,
                                             None if self._palm is None else self._palm.copy())
            results.append(ObjectPoseEstimate(object_id, pose, conf, score.fitness, score.rmse_m))
            _, _, _, explained = fitness(self.model(object_id), pose, pool, cfg.inlier_m)
            pool = pool[~explained]
        results.sort(key=lambda e: self.object_ids.index(e.object_id))
        return results

    def _see_hand(self, kp: np.ndarray | None) -> None:
        """Remember this update's hand: all its keypoints seen (what the hand is at) and its palm
        (wrist and MCPs, what carries a held object), each None when not perceived."""
        seen = None if kp is None else kp[np.all(np.isfinite(kp), axis=1)]
        self._palm_all = seen if seen is not None and len(seen) else None
        palm = None if kp is None else kp[[0, 5, 9, 13, 17]]
        self._palm = palm if palm is not None and np.all(np.isfinite(palm)) else None


def _axis_rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(axis) * np.radians(degrees)).as_matrix()


def _farthest_points(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k spread-out points (farthest-point sampling from a seeded start)."""
    chosen = [int(rng.integers(len(points)))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(1, min(k, len(points))):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return np.array(chosen)
