"""Which depth points may belong to an object: above the table, not the hand, grouped into clusters.

- The table: `world` is the table frame (z up, top at z = 0) after calibration, but a calibration
  is off by millimetres to centimetres, so the top is found again as the dominant near-horizontal
  plane near z = 0 (seeded RANSAC) and points within `table_margin_m` above it are dropped.
- The hand: views carry `mask_exclude` (pixels of the hand and forearm); in addition, points within
  `hand_radius_m` of the segments between given hand keypoints are dropped, which catches the
  edge pixels a 2D mask misses. With the keypoints, a mask is first narrowed to its pixels whose
  points are near the hand or forearm in 3D (`narrow_hand_mask`): a 2D hull grown around the hand
  also covers what the hand holds (most of a grasped mug).
- Clusters: connected components of points closer than `cluster_gap_m`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dexmv_perception.objects.depth_view import DepthView, PixelBox

# the hand's bones as keypoint pairs (project order): wrist-to-MCP and finger segments
HAND_BONES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20), (5, 9), (9, 13), (13, 17))
_NEAR_CHUNK = 20000  # points per block of points_near_segments (its (points, bones) arrays stay a few MB)


@dataclass(frozen=True)
class Plane:
    """n . x + d = 0 with |n| = 1 and n pointing up (out of the table)."""

    normal: np.ndarray
    offset: float

    def height(self, points: np.ndarray) -> np.ndarray:
        return points @ self.normal + self.offset


TABLE_FRAME_PLANE = Plane(np.array([0.0, 0.0, 1.0]), 0.0)


def fit_table_plane(points: np.ndarray, rng: np.random.Generator, *, search_m: float = 0.05,
                    inlier_m: float = 0.004, iterations: int = 60, max_tilt_deg: float = 10.0) -> Plane | None:
    """The dominant near-horizontal plane within `search_m` of z = 0 (RANSAC, then least squares).
    None when there is no such plane (fewer than 200 supporting points)."""
    near = points[np.abs(points[:, 2]) < search_m]
    if len(near) < 200:
        return None
    sample = near if len(near) <= 4000 else near[rng.choice(len(near), 4000, replace=False)]
    # all hypotheses at once: planes through random triples, the near-horizontal ones scored
    triples = sample[rng.integers(0, len(sample), (iterations, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-9
    normals = normals[ok] / norms[ok, None]
    normals *= np.sign(normals[:, 2:3] + 1e-12)
    keep = normals[:, 2] >= np.cos(np.radians(max_tilt_deg))
    normals, anchors = normals[keep], triples[ok][keep, 0]
    if len(normals) == 0:
        return None
    offsets = -np.einsum("ij,ij->i", normals, anchors)
    counts = np.count_nonzero(np.abs(sample @ normals.T + offsets) < inlier_m, axis=0)
    k = int(np.argmax(counts))
    if counts[k] < 0.2 * len(sample) or counts[k] < 100:
        return None
    n, d = normals[k], float(offsets[k])
    inliers = sample[np.abs(sample @ n + d) < inlier_m]
    centre = inliers.mean(axis=0)
    _, _, vt = np.linalg.svd(inliers - centre, full_matrices=False)
    n = vt[2] if vt[2, 2] > 0 else -vt[2]
    return Plane(n, -float(n @ centre))


def points_near_segments(points: np.ndarray, keypoints: np.ndarray, radius: float,
                         bones: Sequence[tuple[int, int]] = HAND_BONES) -> np.ndarray:
    """(N,) bool: points within `radius` of any bone segment between finite keypoints.

    Every bone at once, on the points inside a box around the segments, in float32 about the
    box's centre: it runs on every moment's hand masks of both cameras and on the scene, and a
    loop over the bones spent its time in numpy's per-call overhead (1.6 -> 0.9 ms a call on the
    default recording's masks; float32 about a centre a few decimetres away resolves micrometres)."""
    near = np.zeros(len(points), dtype=bool)
    kp = np.asarray(keypoints, dtype=float)
    pairs = np.asarray(bones, dtype=int).reshape(-1, 2)
    known = np.isfinite(kp).all(axis=1)
    pairs = pairs[known[pairs[:, 0]] & known[pairs[:, 1]]]
    if len(points) == 0 or len(pairs) == 0:
        return near
    a, b = kp[pairs[:, 0]], kp[pairs[:, 1]]
    ends = np.concatenate([a, b])
    lo, hi = ends.min(axis=0) - radius, ends.max(axis=0) + radius
    candidates = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
    if candidates.size == 0:
        return near
    centre = 0.5 * (lo + hi)
    a32 = (a - centre).astype(np.float32)
    ab = (b - centre).astype(np.float32) - a32
    length2 = np.maximum((ab * ab).sum(axis=1), np.float32(1e-12))
    a_dot_ab = (a32 * ab).sum(axis=1)
    a2 = (a32 * a32).sum(axis=1)
    r2 = np.float32(radius * radius)
    for chunk in np.array_split(candidates, max(1, len(candidates) // _NEAR_CHUNK)):
        p = (points[chunk] - centre).astype(np.float32)
        along = p @ ab.T - a_dot_ab  # (M, S): (p - a) . ab
        t = np.clip(along / length2, 0.0, 1.0)
        # |p - a - t ab|^2 = |p - a|^2 - 2 t (p - a).ab + t^2 |ab|^2
        d2 = (p * p).sum(axis=1)[:, None] - 2.0 * (p @ a32.T) + a2 - t * (2.0 * along - t * length2)
        near[chunk] = (d2 < r2).any(axis=1)
    return near


def forearm_segment(keypoints: np.ndarray, length_m: float) -> np.ndarray | None:
    """(2, 3): from the wrist `length_m` along the forearm (away from the middle knuckle), or None
    when the wrist or that knuckle is unknown or they coincide."""
    kp = np.asarray(keypoints, dtype=float)
    if not np.all(np.isfinite(kp[[0, 9]])):
        return None
    back = kp[0] - kp[9]
    norm = float(np.linalg.norm(back))
    if norm <= 1e-6:
        return None
    return np.stack([kp[0], kp[0] + back / norm * length_m])


def points_near_hand(points: np.ndarray, keypoints: np.ndarray, hand_radius_m: float, forearm_radius_m: float,
                     forearm_length_m: float) -> np.ndarray:
    """(N,) bool: points within `hand_radius_m` of the hand's bones or `forearm_radius_m` of the
    forearm's line (the forearm only tested on the points the bones left)."""
    near = points_near_segments(points, keypoints, hand_radius_m)
    arm = forearm_segment(keypoints, forearm_length_m)
    if arm is not None and not near.all():
        rest = np.flatnonzero(~near)
        near[rest] = points_near_segments(points[rest], arm, forearm_radius_m, ((0, 1),))
    return near


def narrow_hand_mask(view: DepthView, keypoints: np.ndarray, hand_radius_m: float, forearm_radius_m: float,
                     forearm_length_m: float = 2.0, box: PixelBox | None = None) -> DepthView:
    """`view` with its mask kept only where the pixel's point lies within `hand_radius_m` of the
    hand's bones or `forearm_radius_m` of the forearm's line (from the wrist away from the middle
    knuckle), or where the pixel has no depth. Decided on every second pixel (a 2 x 2 block shares
    the decision): the mask's edges are grown afterwards anyway. With `box`, decided there only
    (the mask stays as it was outside)."""
    mask = view.mask_exclude
    if mask is None or not mask.any():
        return view
    kp = np.asarray(keypoints, dtype=float)
    v0, v1, u0, u1 = box if box is not None else (0, mask.shape[0], 0, mask.shape[1])
    v0, u0 = max(v0, 0), max(u0, 0)
    v0, u0 = v0 - v0 % 2, u0 - u0 % 2  # the 2 x 2 blocks of the whole image
    small = mask[v0:v1:2, u0:u1:2]
    v, u = np.nonzero(small)
    if len(v) == 0:
        return view
    rows, cols = v, u
    v, u = v * 2 + v0, u * 2 + u0
    z = view.depth_m[v, u].astype(float)
    has_depth = np.isfinite(z) & (z > 0)
    K = view.K
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=1)[has_depth]
    pts = cam @ view.T_world_camera[:3, :3].T + view.T_world_camera[:3, 3]
    near = points_near_hand(pts, kp, hand_radius_m, forearm_radius_m, forearm_length_m)
    keep = np.ones(len(z), dtype=bool)  # no depth: nothing to take, keep it excluded
    keep[has_depth] = near
    decided = np.zeros_like(small)
    decided[rows, cols] = keep
    region = np.repeat(np.repeat(decided, 2, axis=0), 2, axis=1)
    narrowed = mask.copy()
    h, w = narrowed[v0:v1, u0:u1].shape
    narrowed[v0:v1, u0:u1] &= region[:h, :w]
    return DepthView(view.depth_m, view.K, view.T_world_camera, narrowed)


def scene_points(views: Sequence[DepthView], *, stride: int = 2, mask_dilate_px: int = 3,
                 max_range_m: float = 2.0, boxes: Sequence[PixelBox | None] | None = None) -> np.ndarray:
    """World points of all views (every `stride`-th pixel; with `boxes`, per view inside its box or,
    where None, everywhere), excluded pixels grown by mask_dilate_px (a mask's edge pixels mix hand
    and background depth)."""
    import cv2

    clouds = []
    kernel = np.ones((2 * mask_dilate_px + 1, 2 * mask_dilate_px + 1), np.uint8)
    for k, view in enumerate(views):
        if view.mask_exclude is not None and mask_dilate_px > 0 and view.mask_exclude.any():
            grown = cv2.dilate(view.mask_exclude.astype(np.uint8), kernel).astype(bool)
            view = DepthView(view.depth_m, view.K, view.T_world_camera, grown)
        box = None if boxes is None else boxes[k]
        clouds.append(view.points_world(stride=stride, max_m=max_range_m, box=box))
    return np.concatenate(clouds) if clouds else np.zeros((0, 3))


def voxel_downsample(points: np.ndarray, voxel_m: float) -> np.ndarray:
    """Mean of the points in each voxel (deterministic; small_gicp's single-threaded voxel grid)."""
    if len(points) == 0:
        return points
    import small_gicp

    return np.asarray(small_gicp.voxelgrid_sampling(np.asarray(points, dtype=float), voxel_m).points())[:, :3]


def clusters(points: np.ndarray, gap_m: float, min_points: int) -> list[np.ndarray]:
    """Index arrays of the connected components (neighbours closer than gap_m), largest first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if len(points) < min_points:
        return []
    pairs = cKDTree(points).query_pairs(gap_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(points), len(points)))
    _, labels = connected_components(graph, directed=False)
    counts = np.bincount(labels)
    order = np.argsort(-counts, kind="stable")
    return [np.flatnonzero(labels == k) for k in order if counts[k] >= min_points]
