"""Registration of an object's point model to segmented depth points, and how good a pose is.

ICP is small_gicp's GICP (a maintained library: covariance-to-covariance ICP, robust on the partial,
noisy surfaces a depth camera sees). The model cloud is the target (preprocessed once per object),
the scene segment the source, so each frame only the scene side is prepared.

A pose is judged two ways, because either alone is fooled:
- fitness: the share of the segment's points within `inlier_m` of the posed model (and their RMS
  distance): low when the pose leaves observed points unexplained;
- visibility: the posed model's camera-facing points are projected into every depth image; a point
  is *explained* where the image shows a surface at its depth, a *violation* where the image shows
  something clearly behind it (the camera sees through where the object would be), and neither
  where something is in front (the hand). A wrong pose that tucks the observed points against a
  wrong side of the model shows up as violations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dexmv_perception.objects.depth_view import DepthView
from dexmv_perception.objects.point_models import ObjectPointModel

# ICP stops when an iteration moves the pose less than this. small_gicp's defaults (1 mm, 0.1 deg) are
# meant for scans of rooms: on a 6 cm can a 1 mm step is often the last of a slow slide along the
# axis, and stopping there left the estimate several millimetres off.
TRANSLATION_EPSILON = 2e-5
ROTATION_EPSILON = 2e-4


@dataclass(frozen=True)
class PoseScore:
    fitness: float  # share of segment points within inlier_m of the model
    rmse_m: float  # RMS distance of those inliers
    inliers: int  # number of segment points explained
    explained: int  # camera-facing model points seen at their depth (all views)
    violations: int  # camera-facing model points where the camera sees through
    checked: int  # camera-facing model points with a depth measurement (all views)

    @property
    def support(self) -> float:
        """Share of the checked model points that the images do not contradict."""
        return self.explained / max(self.explained + self.violations, 1)

    @property
    def ranking(self) -> float:
        """Score for choosing between hypotheses: observed surface explained, see-through penalized."""
        return self.inliers + self.explained - 4.0 * self.violations


def invert(t: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = t[:3, :3].T
    out[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return out


class ModelCloud:
    """An object's point model prepared for GICP and for scoring (built once per tracked object)."""

    def __init__(self, model: ObjectPointModel, num_neighbors: int = 12) -> None:
        import small_gicp
        from scipy.spatial import cKDTree

        self.model = model
        self.cloud = small_gicp.PointCloud(np.asarray(model.points, dtype=float))
        small_gicp.estimate_normals_covariances(self.cloud, num_neighbors=num_neighbors)
        self.tree = small_gicp.KdTree(self.cloud)
        # a sparser copy (a point per ~8 mm) for the many coarse alignments of detection
        coarse = np.asarray(small_gicp.voxelgrid_sampling(np.asarray(model.points, dtype=float), 0.008).points())
        self.coarse_cloud = small_gicp.PointCloud(coarse[:, :3])
        small_gicp.estimate_normals_covariances(self.coarse_cloud, num_neighbors=8)
        self.coarse_tree = small_gicp.KdTree(self.coarse_cloud)
        self.nn = cKDTree(model.points)
        # a sparser subset for the visibility check
        step = max(1, len(model.points) // 1500)
        self.check_points = model.points[::step]
        self.check_normals = model.normals[::step]


def scene_cloud(points: np.ndarray, num_neighbors: int = 10):
    """A small_gicp source cloud (covariances estimated) of scene points."""
    import small_gicp

    cloud = small_gicp.PointCloud(np.asarray(points, dtype=float))
    small_gicp.estimate_covariances(cloud, num_neighbors=num_neighbors)
    return cloud


def icp(model: ModelCloud, source, T_world_model: np.ndarray, max_correspondence_m: float,
        iterations: int, coarse: bool = False) -> np.ndarray:
    """Refine world <- model by GICP of the prepared scene `source` to the model; returns the new pose.
    coarse: against the sparse model copy, stopping at small_gicp's default (looser) thresholds."""
    import small_gicp

    target, tree = (model.coarse_cloud, model.coarse_tree) if coarse else (model.cloud, model.tree)
    tight = {} if coarse else {"rotation_epsilon": ROTATION_EPSILON, "translation_epsilon": TRANSLATION_EPSILON}
    result = small_gicp.align(target, source, tree, init_T_target_source=invert(T_world_model),
                              registration_type="GICP", max_correspondence_distance=max_correspondence_m,
                              max_iterations=iterations, num_threads=1, **tight)
    pose = invert(np.asarray(result.T_target_source))
    if not np.all(np.isfinite(pose)):
        return T_world_model
    return pose


def fitness(model: ModelCloud, T_world_model: np.ndarray, points: np.ndarray,
            inlier_m: float) -> tuple[float, float, int, np.ndarray]:
    """(fitness, rmse, inlier count, inlier mask) of world `points` against the posed model."""
    if len(points) == 0:
        return 0.0, 0.0, 0, np.zeros(0, dtype=bool)
    local = (points - T_world_model[:3, 3]) @ T_world_model[:3, :3]
    dist, _ = model.nn.query(local, distance_upper_bound=inlier_m)
    mask = np.isfinite(dist)
    n = int(mask.sum())
    rmse = float(np.sqrt(np.mean(dist[mask] ** 2))) if n else 0.0
    return n / len(points), rmse, n, mask


def visibility(model: ModelCloud, T_world_model: np.ndarray, views: Sequence[DepthView],
               surface_m: float = 0.008, through_m: float = 0.015, cell_px: int = 3,
               only: np.ndarray | None = None) -> tuple[int, int, int]:
    """(explained, violations, checked) over all views for the posed model's camera-facing points.

    Self-occlusion: per `cell_px` image cell only model points within surface_m of the nearest
    model point there count. Pixels without depth or excluded (the hand) are not checked.
    only: (len(check_points),) bool: count these points only (the whole model still occludes).
    """
    pts = model.check_points @ T_world_model[:3, :3].T + T_world_model[:3, 3]
    nrm = model.check_normals @ T_world_model[:3, :3].T
    counted = np.ones(len(pts), dtype=bool) if only is None else np.asarray(only, dtype=bool)
    explained = violations = checked = 0
    for view in views:
        cam = view.T_world_camera
        facing = np.einsum("ij,ij->i", nrm, cam[:3, 3] - pts) > 0
        local = (pts[facing] - cam[:3, 3]) @ cam[:3, :3]
        mine = counted[facing]
        z = local[:, 2]
        ok = z > 0.05
        local, z, mine = local[ok], z[ok], mine[ok]
        h, w = view.depth_m.shape
        u = np.round(view.K[0, 0] * local[:, 0] / z + view.K[0, 2]).astype(np.int64)
        v = np.round(view.K[1, 1] * local[:, 1] / z + view.K[1, 2]).astype(np.int64)
        inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
        u, v, z, mine = u[inside], v[inside], z[inside], mine[inside]
        if len(z) == 0:
            continue
        cell = (v // cell_px) * (w // cell_px + 1) + u // cell_px
        nearest = np.full(cell.max() + 1, np.inf)
        np.minimum.at(nearest, cell, z)
        front = (z <= nearest[cell] + surface_m) & mine
        u, v, z = u[front], v[front], z[front]
        observed = view.depth_m[v, u].astype(float)
        valid = np.isfinite(observed) & (observed > 0)
        if view.mask_exclude is not None:
            valid &= ~view.mask_exclude[v, u]
        observed, z = observed[valid], z[valid]
        checked += len(z)
        explained += int(np.count_nonzero(np.abs(observed - z) < surface_m))
        violations += int(np.count_nonzero(observed > z + through_m))
    return explained, violations, checked


def score_pose(model: ModelCloud, T_world_model: np.ndarray, points: np.ndarray,
               views: Sequence[DepthView], inlier_m: float) -> PoseScore:
    fit, rmse, n, _ = fitness(model, T_world_model, points, inlier_m)
    explained, violations, checked = visibility(model, T_world_model, views)
    return PoseScore(fit, rmse, n, explained, violations, checked)


def confidence(score: PoseScore, min_checked: int = 40) -> float:
    """In [0, 1]: fitness times visibility support, lowered when few model points could be checked
    (an object mostly hidden) or the inliers sit far from the model."""
    coverage = min(1.0, score.checked / min_checked)
    tightness = float(np.exp(-((score.rmse_m / 0.004) ** 2)))
    return float(np.clip(score.fitness * score.support * coverage * (0.5 + 0.5 * tightness), 0.0, 1.0))
