"""Two (or more) cameras' views of the hand fused into one set of 3D keypoints in `world`.

Each camera says two things about a keypoint: it lies on the ray through its pixel (MediaPipe's 2D
landmark, good to a few pixels) and, where the depth image saw it, at the measured distance along
that ray (good to about a centimetre, the skin-to-joint uncertainty; far worse where the depth
came from the hand's shape). As information matrices:

    L_c = w_c [ (I - r r^T) / s_perp^2 + r r^T / s_along^2 ]

with r the ray's direction, s_perp = pixel error x range / focal length (a larger pixel error
where the landmark's depth was not measured: a hidden point, guessed) and w_c the camera's
confidence in the hand. The fused point minimises sum_c (x - p_c)^T L_c (x - p_c): with two views
the rays triangulate the point (the cameras look from different sides, so one's depth axis is the
other's image plane) and depth fills what the rays leave open; with one view it is the lifted
point. Where a view's squared Mahalanobis residual exceeds `gate` (the views disagree, e.g.
MediaPipe put a finger on the wrong finger in one), one view is dropped and the point solved again
from the rest: the one with the largest residual, unless a recent previous estimate clearly says
which view left it (one within `recent_within_m` of it, the other more than `recent_ratio` times
as far): then that one. The residual alone cannot tell which of two views is wrong: for two views
it is always the less certain one's (residual ratio = inverse ratio of their information), right
or not; the previous estimate, itself fused, can be the wrong one's too, hence only a clear case.
A whole camera is rejected when its hand disagrees with the others' by more than `hand_gate_m`
(median over keypoints, e.g. it tracked the other hand or an object): the camera whose hand is
nearer the previous estimate wins, else the more confident one. Given a recent previous estimate,
a view's keypoint that jumped more than `jump_gate_m` from it while the rest of that view's hand
did not is not used (a finger MediaPipe put on its neighbour for a frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dexmv_perception.hand.skeleton import NUM_KEYPOINTS


@dataclass(frozen=True)
class CameraView:
    """What one camera contributes: keypoints lifted to `world`, their pixels and its pose."""

    name: str
    pixels: np.ndarray  # (21, 2)
    points_world: np.ndarray  # (21, 3) lifted points in world (NaN where unknown)
    measured: np.ndarray  # (21,) bool: depth measured (else from the hand's shape)
    confidence: float  # confidence in this camera's hand (0..1)
    K: np.ndarray  # (3, 3)
    T_world_camera: np.ndarray  # (4, 4) world <- optical frame


@dataclass(frozen=True)
class FusionConfig:
    pixel_sigma: float = 4.0  # MediaPipe landmark error (px, 1 sigma)
    # where the landmark's depth was not measured: its pixel showed something else, mostly because the
    # point is hidden there and the landmark a guess (camera1 of a grasp recording, relocate-mustard_bottle
    # seed 107: unmeasured landmarks 28 px off (median), measured ones 6 px); the view that measured the
    # point then decides where it is (hand MPJPE over six recordings 0.4 mm lower on average)
    hidden_pixel_sigma: float = 12.0
    measured_sigma_m: float = 0.010  # along the ray, depth measured (skin-to-joint, noise)
    shape_sigma_m: float = 0.040  # along the ray, depth from the hand's shape
    gate: float = 16.0  # squared Mahalanobis residual (4 sigma) beyond which a view is dropped
    hand_gate_m: float = 0.045  # median disagreement beyond which a whole camera is rejected
    jump_gate_m: float = 0.05  # a view's keypoint this far from the previous estimate is not used, when the
    # rest of that view's hand agrees with it (a finger MediaPipe put on another finger, or depth of what is
    # in front); 30 fps hand motion moves a keypoint about 2 cm a frame
    # of two disagreeing views, the one farther from the previous estimate is dropped when the other is within
    # recent_within_m of it and this one more than recent_ratio times as far (33 synthetic recordings: hand
    # MPJPE 18.28 -> 18.14 mm with this alone; dropping the farther view whatever the distances: 18.30, up to
    # 4 mm worse on some recordings, where the previous estimate had followed the wrong view)
    recent_within_m: float = 0.03
    recent_ratio: float = 2.0


@dataclass(frozen=True)
class FusedHand:
    points: np.ndarray  # (21, 3) world, NaN where no view saw the keypoint
    confidence: np.ndarray  # (21,) 0..1
    views: np.ndarray  # (21,) number of cameras used per keypoint
    rejected_cameras: tuple[str, ...]  # cameras whose whole hand was rejected
    # which camera's view was used for which keypoint: {camera name: (21,) bool}
    used_by: dict[str, np.ndarray] = field(default_factory=dict)
    # the kept cameras' information matrices (C, 21, 3, 3) and anchors (C, 21, 3), in used_by's order
    information: np.ndarray | None = None
    anchors: np.ndarray | None = None

    def used_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(M, 3, 3) information, (M, 3) anchors and (M,) keypoint of each view the fusion used."""
        if self.information is None or self.anchors is None or not self.used_by:
            return np.zeros((0, 3, 3)), np.zeros((0, 3)), np.zeros(0, dtype=int)
        active = np.stack(list(self.used_by.values()))
        return self.information[active], self.anchors[active], np.nonzero(active)[1]


def _information(view: CameraView, config: FusionConfig) -> tuple[np.ndarray, np.ndarray]:
    """(21, 3, 3) information matrices and (21, 3) anchor points of one view."""
    R, origin = view.T_world_camera[:3, :3], view.T_world_camera[:3, 3]
    K = view.K
    rays_cam = np.column_stack([(view.pixels[:, 0] - K[0, 2]) / K[0, 0], (view.pixels[:, 1] - K[1, 2]) / K[1, 1],
                                np.ones(len(view.pixels))])
    rays = rays_cam @ R.T
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    rng = np.linalg.norm(view.points_world - origin, axis=1)
    s_perp = np.where(view.measured, config.pixel_sigma, config.hidden_pixel_sigma) * rng / K[0, 0]
    s_along = np.where(view.measured, config.measured_sigma_m, config.shape_sigma_m)
    outer = rays[:, :, None] * rays[:, None, :]
    info = (np.eye(3) - outer) / s_perp[:, None, None] ** 2 + outer / s_along[:, None, None] ** 2
    return view.confidence * info, view.points_world


def _hand_disagreement(a: CameraView, b: CameraView) -> float:
    d = np.linalg.norm(a.points_world - b.points_world, axis=1)
    return float(np.nanmedian(d)) if np.isfinite(d).any() else 0.0


def select_views(views: list[CameraView], previous: np.ndarray | None, config: FusionConfig
                 ) -> tuple[list[CameraView], tuple[str, ...]]:
    """Drop cameras whose whole hand disagrees with the rest (kept: nearest the previous estimate)."""
    views = [v for v in views if v.confidence > 0 and np.isfinite(v.points_world).any()]
    if len(views) < 2:
        return views, ()

    def score(v: CameraView) -> float:
        if previous is not None and np.isfinite(previous).any():
            d = np.linalg.norm(v.points_world - previous, axis=1)
            if np.isfinite(d).any():
                return -float(np.nanmedian(d))
        return v.confidence

    # a camera whose confidence was cut (its hand is the wrong side: a mirrored pose) never outranks one
    # that is not, however near the previous estimate it lies (that estimate may carry its error)
    ranked = sorted(views, key=lambda v: (v.confidence >= 0.5, score(v)), reverse=True)
    kept, rejected = [ranked[0]], []
    for v in ranked[1:]:
        if all(_hand_disagreement(v, k) <= config.hand_gate_m for k in kept):
            kept.append(v)
        else:
            rejected.append(v.name)
    return kept, tuple(rejected)


def fuse_views(views: list[CameraView], previous: np.ndarray | None = None,
               config: FusionConfig = FusionConfig()) -> FusedHand:
    """Fuse the cameras' views of one hand (see the module docstring)."""
    n = NUM_KEYPOINTS
    kept, rejected = select_views(views, previous, config)
    points = np.full((n, 3), np.nan)
    confidence = np.zeros(n)
    used = np.zeros(n, dtype=int)
    if not kept:
        return FusedHand(points, confidence, used, rejected)
    infos, anchors = zip(*(_information(v, config) for v in kept), strict=True)
    info = np.stack(infos)  # (C, 21, 3, 3)
    anchor = np.stack(anchors)  # (C, 21, 3)
    active = np.isfinite(anchor).all(axis=2) & np.isfinite(info).all(axis=(2, 3))  # (C, 21)
    recent = previous is not None and np.isfinite(previous).all()
    if recent:
        jump = np.linalg.norm(anchor - previous, axis=2)  # (C, 21)
        with np.errstate(invalid="ignore"):
            steady = np.nanmedian(np.where(active, jump, np.nan), axis=1) < config.jump_gate_m  # (C,)
            active &= ~(steady[:, None] & (jump > config.jump_gate_m))
    for _ in range(2):  # solve, gate the worst view per keypoint, solve again
        w = np.where(active[..., None, None], info, 0.0)
        a = np.where(active[..., None], anchor, 0.0)
        total = w.sum(axis=0)
        rhs = np.einsum("cnij,cnj->ni", w, a)
        ok = active.any(axis=0)
        sol = np.full((n, 3), np.nan)
        sol[ok] = np.linalg.solve(total[ok], rhs[ok][..., None])[..., 0]
        resid = np.where(active, np.einsum("cni,cnij,cnj->cn", anchor - sol, w, anchor - sol), 0.0)
        worst = np.argmax(resid, axis=0)
        drop = (active.sum(axis=0) > 1) & (resid[worst, np.arange(n)] > config.gate)
        if recent:  # of disagreeing views, the one that clearly moved away from where the keypoint was
            nearest = np.where(active, jump, np.inf).min(axis=0)
            moved = np.where(active, jump, -1.0)
            clear = (nearest < config.recent_within_m) & (moved.max(axis=0) > config.recent_ratio * nearest)
            worst = np.where(drop & clear, np.argmax(moved, axis=0), worst)
        if not drop.any():
            break
        active[worst[drop], np.arange(n)[drop]] = False
    points[ok] = sol[ok]
    used = active.sum(axis=0)
    conf_views = np.array([v.confidence for v in kept])[:, None]
    quality = np.where(np.stack([v.measured for v in kept]), 1.0, 0.5)  # depth from the shape: less sure
    per_view = np.where(active, conf_views * quality, 0.0)
    # two agreeing views: 1 - (1 - c1)(1 - c2), as independent witnesses
    confidence = 1.0 - np.prod(1.0 - per_view, axis=0)
    used_by = {v.name: active[i].copy() for i, v in enumerate(kept)}
    return FusedHand(points, np.clip(confidence, 0.0, 1.0), used, rejected, used_by, info, anchor)
