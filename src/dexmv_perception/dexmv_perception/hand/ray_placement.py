"""A keypoint whose depth no camera measured, placed on its camera ray at the hand's own bone lengths.

`place_on_ray` places the wrist from several measured anchors (the knuckles); `place_at_distance`
places a finger keypoint one bone from its parent.

Why: where a keypoint's pixel shows something else (the object the hand grasps, the table beyond
a silhouette edge), lifting falls back on MediaPipe's relative hand shape, whose depth is good to
a few centimetres only. In grasps seen from above the wrist is such a keypoint, and it came out
50-100 mm off while the knuckles around it were measured to 1-25 mm. The wrist's pixel (good to a
few pixels) still fixes a ray, and the hand's bone lengths (the median of its confident frames)
fix how far along it the wrist must be from the measured knuckles: the point of the ray whose
distances to the anchors best match the bones.
"""

from __future__ import annotations

import numpy as np

MAX_RMS_M = 0.012  # a placement whose distances miss the bone lengths by more (RMS) is not taken
SEARCH_M = 0.15  # along the ray, this far either side of the first estimate
STEP_M = 0.001


def ray_through_pixel(pixel: np.ndarray, K: np.ndarray, T_world_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin, unit direction) in world of the camera ray through `pixel` (u, v)."""
    d_cam = np.array([(pixel[0] - K[0, 2]) / K[0, 0], (pixel[1] - K[1, 2]) / K[1, 1], 1.0])
    d = T_world_camera[:3, :3] @ d_cam
    return T_world_camera[:3, 3].copy(), d / np.linalg.norm(d)


def place_on_ray(origin: np.ndarray, direction: np.ndarray, anchors: np.ndarray, lengths: np.ndarray,
                 guess: np.ndarray) -> np.ndarray | None:
    """The point of the ray whose distances to `anchors` (k, 3) best match `lengths` (k,), searched
    within SEARCH_M of `guess`'s place along the ray; of two fits (in front of and behind the
    anchors) the one nearer `guess`. None when no point fits within MAX_RMS_M or the inputs are
    unusable (fewer than 3 finite anchors)."""
    ok = np.all(np.isfinite(anchors), axis=1) & np.isfinite(lengths)
    if ok.sum() < 3 or not np.all(np.isfinite(guess)):
        return None
    anchors, lengths = anchors[ok], lengths[ok]
    t0 = float((guess - origin) @ direction)
    t = np.arange(max(t0 - SEARCH_M, 0.05), t0 + SEARCH_M, STEP_M)
    if len(t) < 3:
        return None
    points = origin + t[:, None] * direction
    dist = np.linalg.norm(points[:, None, :] - anchors[None], axis=2)
    rms = np.sqrt(np.mean((dist - lengths) ** 2, axis=1))
    # local minima of the misfit that fit well enough
    inner = (rms[1:-1] <= rms[:-2]) & (rms[1:-1] <= rms[2:]) & (rms[1:-1] < MAX_RMS_M)
    minima = np.flatnonzero(inner) + 1
    if minima.size == 0:
        return None
    best = minima[np.argmin(np.abs(t[minima] - t0))]
    return points[best]


def place_at_distance(origin: np.ndarray, direction: np.ndarray, anchor: np.ndarray, length: float,
                      guess: np.ndarray) -> np.ndarray | None:
    """The point of the ray `length` from `anchor` (one bone from its measured parent), of the two
    such points the one nearer `guess`'s place along the ray; where the ray passes farther than
    `length` from the anchor (the pixel is a little off), its point nearest the anchor. None for
    unusable inputs."""
    if not (np.all(np.isfinite(anchor)) and np.all(np.isfinite(guess)) and np.isfinite(length) and length > 0):
        return None
    to_origin = origin - anchor
    half_b = float(direction @ to_origin)
    disc = half_b * half_b - float(to_origin @ to_origin - length * length)
    if disc < 0:
        t = -half_b
    else:
        roots = np.array([-half_b - np.sqrt(disc), -half_b + np.sqrt(disc)])
        t = float(roots[np.argmin(np.abs(roots - float((guess - origin) @ direction)))])
    if t <= 0:
        return None  # behind the camera
    return origin + t * direction
