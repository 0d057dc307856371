"""What a RealSense D435 looks like to software: colour intrinsics, depth units, depth noise and holes.

Used to make synthetic recordings that look like real ones; the numbers are the D435's:
- colour at 640x480: a typical factory calibration (fx ~ 615 px, principal point a few pixels off
  centre; about 69 x 42 degrees), Brown-Conrady model with zero coefficients as the device reports;
- depth in 16-bit units of 1 mm (the D435's default depth_units 0.001), aligned to colour;
- depth RMS error from Intel's stereo formula (D400 tuning guide): sigma_z = z^2 * subpixel /
  (focal_px * baseline) with baseline 50 mm, subpixel 0.08, focal 447 px (848-wide depth, 87 deg
  HFOV), i.e. about 1.8 mm at 0.7 m;
- holes: no depth closer than the minimum range (0.175 m at this resolution) or past 10 m,
  missing pixels along depth discontinuities (stereo occlusion), and sparse random dropouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEPTH_UNITS = 0.001  # m per depth count
BASELINE = 0.050  # m
SUBPIXEL = 0.08
DEPTH_FOCAL_PX = 447.0
MIN_DEPTH = 0.175  # m
MAX_DEPTH = 10.0  # m
EDGE_JUMP = 0.02  # m between neighbouring pixels counts as a discontinuity
EDGE_HOLE_PROBABILITY = 0.6
DROPOUT_PROBABILITY = 0.004


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of one stream (pixels); coeffs as librealsense orders them."""

    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float
    model: str = "brown_conrady"
    coeffs: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def matrix(self) -> np.ndarray:
        """3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.ppx], [0.0, self.fy, self.ppy], [0.0, 0.0, 1.0]])

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) of points (..., 3) in the optical frame (z forward), no distortion."""
        p = np.asarray(points, dtype=float)
        return np.stack([self.fx * p[..., 0] / p[..., 2] + self.ppx, self.fy * p[..., 1] / p[..., 2] + self.ppy], -1)


# A typical D435 colour calibration at 640x480 (factory values vary by a few pixels per unit).
D435_COLOR_640x480 = Intrinsics(640, 480, 615.3, 615.6, 324.1, 238.5)


def depth_sigma(z: np.ndarray) -> np.ndarray:
    """RMS depth error (m) at distance z (m), Intel's stereo formula for the D435."""
    return np.asarray(z) ** 2 * SUBPIXEL / (DEPTH_FOCAL_PX * BASELINE)


def noisy_depth(depth_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint16 depth (mm units) from a clean depth image in metres: noise, quantization and holes (0).

    Float32 throughout and random draws only where they are used (edge pixels, a binomial count of
    dropouts): this runs per camera frame, and a full-image float64 draw per effect cost ~4x more.
    """
    z = np.asarray(depth_m, dtype=np.float32)
    sigma = z * z * np.float32(SUBPIXEL / (DEPTH_FOCAL_PX * BASELINE))
    noisy = z + rng.standard_normal(z.shape, dtype=np.float32) * sigma
    out = np.rint(noisy * np.float32(1.0 / DEPTH_UNITS))
    invalid = (z < MIN_DEPTH) | (z > MAX_DEPTH) | ~np.isfinite(z)
    jump = np.zeros(z.shape, dtype=bool)
    jump[:, 1:] |= np.abs(np.diff(z, axis=1)) > EDGE_JUMP
    jump[1:, :] |= np.abs(np.diff(z, axis=0)) > EDGE_JUMP
    flat = invalid.reshape(-1)
    edges = np.flatnonzero(jump)
    flat[edges[rng.random(edges.size) < EDGE_HOLE_PROBABILITY]] = True
    flat[rng.choice(z.size, rng.binomial(z.size, DROPOUT_PROBABILITY), replace=False)] = True
    out[invalid] = 0
    return np.clip(out, 0, 65535).astype(np.uint16)
