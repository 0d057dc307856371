"""Hand landmarks (pixels) to 3D points with the depth image aligned to colour.

A landmark's own pixel is a poor depth sample: fingertips lie on the silhouette, where the window
mixes finger and background (and the D435 leaves holes along depth edges), and an object held in
front of a finger gives the object's depth. So, per keypoint, the valid depths in a small window
are taken, and the hand's own depth is told apart from what is behind or in front of it with the
hand's shape: MediaPipe's metric landmarks give each keypoint's depth relative to the others
(coarsely, a few centimetres). The hand's depth is the median over keypoints of (measured depth -
relative depth); each keypoint then takes, of its window's samples, those within `tolerance_m` of
where the shape puts it, and their median. A keypoint without such samples gets the shape's depth
and is marked as not measured (the fusion trusts it little along the ray). Finally the skin
depth is moved back to the joint centre (SURFACE_TO_JOINT_M).

A keypoint hidden behind another part of the same hand (a knuckle behind the fingers curled towards
the camera, the thumb under the palm) has the other part's depth in its window, and MediaPipe's
shape often puts it near enough that the check above keeps it: measured 3-8 cm too near (camera2
of the grasp recordings). So a keypoint is taken as covered, its depth the shape's and not
measured, where another keypoint's pixel lies within that keypoint's own half-thickness of it (as
seen at the hand's depth) and the shape puts that keypoint in front by more than its thickness
(`covered_keypoints`); the other camera then decides where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexmv_perception.hand.skeleton import SURFACE_TO_JOINT_M

MIN_DEPTH_M = 0.1  # nearer than this a depth sample is not a hand in front of a D435
MAX_DEPTH_M = 2.5  # beyond this a D435's depth is too coarse for a hand (and a hand is not this far)


@dataclass(frozen=True)
class LiftedHand:
    """One camera's 3D hand in its optical frame (z forward)."""

    points: np.ndarray  # (21, 3) m; NaN where nothing is known
    measured: np.ndarray  # (21,) bool: the depth came from the depth image (else from the hand's shape)
    hand_depth: float  # depth of the hand's reference (m), NaN if no keypoint had depth


def backproject(pixels: np.ndarray, depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) optical-frame points of (N, 2) pixels at (N,) depths (z)."""
    x = (pixels[:, 0] - K[0, 2]) / K[0, 0]
    y = (pixels[:, 1] - K[1, 2]) / K[1, 1]
    return np.stack([x * depth, y * depth, depth], axis=-1)


def window_samples(depth_m: np.ndarray, pixels: np.ndarray, radius: int) -> np.ndarray:
    """(N, (2r+1)^2) depth samples around each pixel (NaN outside the image or without depth)."""
    h, w = depth_m.shape
    offsets = np.arange(-radius, radius + 1)
    u = np.rint(pixels[:, 0]).astype(int)[:, None, None] + offsets[None, None, :]
    v = np.rint(pixels[:, 1]).astype(int)[:, None, None] + offsets[None, :, None]
    u, v = np.broadcast_arrays(u, v)
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    samples = np.full(u.shape, np.nan, dtype=np.float32)
    samples[inside] = depth_m[v[inside], u[inside]]
    samples[~((samples > MIN_DEPTH_M) & (samples < MAX_DEPTH_M))] = np.nan
    return samples.reshape(len(pixels), -1)


def row_quantile(values: np.ndarray, q: float) -> np.ndarray:
    """Per row, the q-quantile (nearest rank) of the finite values; NaN for rows without any.

    A sort per call instead of np.nanpercentile, which loops in Python over rows (10x slower here).
    """
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.isfinite(values).sum(axis=1)
    index = np.clip(np.rint(q * (count - 1)).astype(int), 0, values.shape[1] - 1)
    out = ordered[np.arange(len(values)), index]
    return np.where(count > 0, out, np.nan)


def lift_hand(pixels: np.ndarray, relative_depth: np.ndarray, depth_m: np.ndarray, K: np.ndarray, *,
              radius: int | None = None, tolerance_m: float = 0.03) -> LiftedHand:
    """Lift (21, 2) pixels to 3D with `depth_m` (H, W) metres (0 or NaN = no depth).

    relative_depth: (21,) each keypoint's depth relative to the hand (m), e.g. MediaPipe's world
    landmarks' z; zeros if unknown (then the tolerance must cover the hand's own depth extent).
    radius: window half-size in pixels; default grows with the hand's size in the image (2-5 px).
    """
    pixels = np.asarray(pixels, dtype=float)
    rel = np.asarray(relative_depth, dtype=float)
    if radius is None:
        size = float(np.linalg.norm(pixels.max(axis=0) - pixels.min(axis=0)))
        radius = int(np.clip(round(0.03 * size), 2, 5))
    samples = window_samples(depth_m, pixels, radius)
    # the nearest surface in each window: the hand, unless something is in front of it
    near = row_quantile(samples, 0.25)
    with np.errstate(invalid="ignore"):
        first = row_quantile(np.where(np.abs(samples - near[:, None]) < 0.5 * tolerance_m, samples, np.nan), 0.5)
    offsets = first - rel
    if not np.isfinite(offsets).any():
        return LiftedHand(np.full((len(pixels), 3), np.nan), np.zeros(len(pixels), bool), float("nan"))
    hand_depth = float(np.median(offsets[np.isfinite(offsets)]))
    expected = hand_depth + rel
    with np.errstate(invalid="ignore"):
        close = np.abs(samples - expected[:, None]) < tolerance_m
    measured = close.sum(axis=1) >= max(2, samples.shape[1] // 10)
    measured &= ~covered_keypoints(pixels, rel, K[0, 0] / hand_depth)
    depth = np.where(measured, row_quantile(np.where(close, samples, np.nan), 0.5), expected)
    depth = depth + SURFACE_TO_JOINT_M[: len(pixels)]
    return LiftedHand(backproject(pixels, depth, K), measured, hand_depth)


def covered_keypoints(pixels: np.ndarray, relative_depth: np.ndarray, pixels_per_m: float) -> np.ndarray:
    """(N,) bool: keypoints another keypoint of the hand covers from the camera (module docstring):
    its pixel within the other's half-thickness (SURFACE_TO_JOINT_M, `pixels_per_m` at the hand's
    depth) and the other nearer by more than twice that, by the hand's shape (`relative_depth`)."""
    half = SURFACE_TO_JOINT_M[: len(pixels)]
    apart = np.linalg.norm(pixels[:, None, :] - pixels[None, :, :], axis=-1)
    np.fill_diagonal(apart, np.inf)
    in_front = relative_depth[None, :] < relative_depth[:, None] - 2 * half[None, :]  # [k, j]: j before k
    return ((apart < half[None, :] * pixels_per_m) & in_front).any(axis=1)
