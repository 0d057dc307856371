"""Grasps of the task objects by the human hand: where the hand sits and how far the fingers close.

A grasp is found the way a hand closes on an object: the palm is placed against a simple proxy of
the object (its bounding box, or its body cylinder for the can and the mug), then each finger and
the thumb curl along a natural closing path until they first touch the proxy. The fingers therefore
wrap a thin box less than a wide can, and a small hand closes further than a large one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from dexmv_capture.synthetic.human_hand import FINGER_KEYPOINTS, HandAngles, HandShape, hand_keypoints_local

FINGER_RADIUS = 0.009  # m, half the thickness of a finger (contact happens at the surface)
PALM_HALF_THICKNESS = 0.014  # m, wrist keypoint plane to the palm skin
GRASP_TYPES = ("side", "top")


@dataclass(frozen=True)
class ObjectProxy:
    """A box (half sizes) or a z-axis cylinder (radius, half height) in the object's model frame."""

    kind: str  # "box" or "cylinder"
    half_size: np.ndarray  # box: (3,) half sizes; cylinder: (radius, radius, half height)
    center: np.ndarray  # (3,) centre in the model frame

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (m) of points (..., 3) in the model frame: negative inside."""
        p = np.asarray(points, dtype=float) - self.center
        if self.kind == "box":
            q = np.abs(p) - self.half_size
            return np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(q.max(axis=-1), 0.0)
        d = np.stack([np.linalg.norm(p[..., :2], axis=-1) - self.half_size[0], np.abs(p[..., 2]) - self.half_size[2]],
                     axis=-1)
        return np.linalg.norm(np.maximum(d, 0.0), axis=-1) + np.minimum(d.max(axis=-1), 0.0)

    def support(self, direction: np.ndarray) -> float:
        """Extent of the proxy from its centre along a unit direction (model frame)."""
        n = np.abs(np.asarray(direction, dtype=float))
        if self.kind == "box":
            return float(n @ self.half_size)
        return float(self.half_size[0] * np.hypot(n[0], n[1]) + self.half_size[2] * n[2])


def object_proxy(object_id: str, scale: float = 1.0) -> ObjectProxy:
    """The proxy of a dexmv_sim object: the mug and the can by their body cylinder, others by their box."""
    from dexmv_sim.objects import object_cavity, object_extent

    extent = object_extent(object_id, scale=scale)
    if object_id == "005_tomato_soup_can":
        return ObjectProxy("cylinder", np.array([extent[0], extent[0], extent[2]]), np.zeros(3))
    if object_id == "025_mug":
        cavity = object_cavity(object_id, scale)
        radius = extent[1]  # the body's radius (y has no handle)
        return ObjectProxy("cylinder", np.array([radius, radius, extent[2]]),
                           np.array([cavity.center_xy[0], cavity.center_xy[1], 0.0]))
    return ObjectProxy("box", np.asarray(extent, dtype=float), np.zeros(3))


def _segment_samples(keypoints: np.ndarray, chain: tuple[int, ...]) -> np.ndarray:
    """Points along the bones of one finger (..., n, 3), so that a bone crossing a corner counts."""
    pts = []
    for a, b in itertools.pairwise(chain):
        for s in (0.5, 1.0):
            pts.append(keypoints[..., a, :] * (1 - s) + keypoints[..., b, :] * s)
    return np.stack(pts, axis=-2)


def finger_closing_path(open_angles: HandAngles, closed_angles: HandAngles, steps: int = 41) -> HandAngles:
    """Angles from open to closed (a leading axis of `steps`)."""
    return open_angles.interpolate(closed_angles, np.linspace(0.0, 1.0, steps))


def close_on_object(shape: HandShape, hand_in_object: np.ndarray, proxy: ObjectProxy, open_angles: HandAngles,
                    closed_angles: HandAngles, squeeze: float = 0.004,
                    object_pose: np.ndarray | None = None) -> HandAngles:
    """Close each finger and the thumb from `open_angles` towards `closed_angles` until it touches the proxy.

    hand_in_object: 4x4 object <- hand. Each digit stops at its first contact (finger surface within
    `squeeze` metres inside the proxy, a light squeeze); digits that never touch close fully. With
    `object_pose` (world <- object) the table top (world z = 0) stops a digit too.
    """
    path = finger_closing_path(open_angles, closed_angles)
    local = hand_keypoints_local(shape, path)  # (steps, 21, 3)
    pts = local @ hand_in_object[:3, :3].T + hand_in_object[:3, 3]
    result = open_angles.to_vector().copy()
    closed = closed_angles.to_vector()
    for finger, chain in FINGER_KEYPOINTS.items():
        root = 0 if finger != "thumb" else 1
        samples = _segment_samples(pts, (root, *chain) if finger != "thumb" else chain)
        dist = proxy.distance(samples).min(axis=-1) - FINGER_RADIUS
        if object_pose is not None:
            height = samples @ object_pose[2, :3] + object_pose[2, 3]
            dist = np.minimum(dist, height.min(axis=-1) - FINGER_RADIUS + squeeze)
        touching = np.nonzero(dist <= -squeeze)[0]
        stop = int(touching[0]) if touching.size else len(dist) - 1
        s = stop / (len(dist) - 1)
        for idx in _vector_indices(finger):
            result[idx] = result[idx] + (closed[idx] - result[idx]) * s
    return HandAngles.from_vector(result)


def _vector_indices(finger: str) -> list[int]:
    """Indices of HandAngles.to_vector() that move `finger`."""
    if finger == "thumb":
        return [16, 17, 18, 19]
    f = ("index", "middle", "ring", "little").index(finger)
    return [3 * f, 3 * f + 1, 3 * f + 2, 12 + f]
