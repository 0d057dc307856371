"""One depth image as registration needs it: metres, intrinsics, where the camera is, what to ignore."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PixelBox = tuple[int, int, int, int]
"""(row_start, row_stop, col_start, col_stop) of an image: a region to work on."""


class DepthViewError(ValueError):
    """A depth view whose arrays do not fit together or are implausible; the message names the field."""


@dataclass
class DepthView:
    """A depth image aligned to a pinhole camera.

    depth_m: (H, W) float32 metres; 0 or NaN marks a missing pixel (a D435's 16UC1 image times
    its depth units, 0.001). K: (3, 3) camera matrix of the image. T_world_camera: (4, 4) pose of
    the optical frame (z forward) in `world`. mask_exclude: optional (H, W) bool, pixels to ignore
    (the hand and forearm, for example), so points of the person are not taken for the object.
    """

    depth_m: np.ndarray
    K: np.ndarray
    T_world_camera: np.ndarray
    mask_exclude: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.depth_m = np.asarray(self.depth_m, dtype=np.float32)
        self.K = np.asarray(self.K, dtype=float)
        self.T_world_camera = np.asarray(self.T_world_camera, dtype=float)
        if self.depth_m.ndim != 2:
            raise DepthViewError(f"depth_m must be (H, W), got shape {self.depth_m.shape}")
        if self.K.shape != (3, 3) or not np.all(np.isfinite(self.K)) or self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise DepthViewError(f"K must be a finite 3x3 camera matrix with positive focal lengths, got {self.K}")
        if self.T_world_camera.shape != (4, 4) or not np.all(np.isfinite(self.T_world_camera)):
            raise DepthViewError(f"T_world_camera must be a finite 4x4 transform, got {self.T_world_camera.shape}")
        rot = self.T_world_camera[:3, :3]
        if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-5):
            raise DepthViewError("T_world_camera's rotation part is not a rotation matrix")
        if self.mask_exclude is not None:
            self.mask_exclude = np.asarray(self.mask_exclude, dtype=bool)
            if self.mask_exclude.shape != self.depth_m.shape:
                raise DepthViewError(f"mask_exclude has shape {self.mask_exclude.shape}, depth_m {self.depth_m.shape}")

    @classmethod
    def from_depth_units(cls, depth: np.ndarray, depth_units_m: float, K: np.ndarray, T_world_camera: np.ndarray,
                         mask_exclude: np.ndarray | None = None) -> DepthView:
        """From an integer depth image (RealSense 16UC1: depth_units_m = 0.001)."""
        return cls(np.asarray(depth, dtype=np.float32) * np.float32(depth_units_m), K, T_world_camera, mask_exclude)

    def _grid(self, stride: int, box: PixelBox | None) -> tuple[slice, slice]:
        """Row and column slices of every `stride`-th pixel of the image inside `box` (the whole
        image's grid, so a box holds the same pixels the whole image does there)."""
        v0, v1, u0, u1 = box if box is not None else (0, self.depth_m.shape[0], 0, self.depth_m.shape[1])
        v0, u0 = -(-max(v0, 0) // stride) * stride, -(-max(u0, 0) // stride) * stride
        return slice(v0, v1, stride), slice(u0, u1, stride)

    def valid_mask(self, min_m: float = 0.1, max_m: float = 3.0, stride: int = 1,
                   box: PixelBox | None = None) -> np.ndarray:
        """Bool over every `stride`-th pixel (inside `box`): a depth in [min_m, max_m], not excluded."""
        rows, cols = self._grid(stride, box)
        d = self.depth_m[rows, cols]
        ok = np.isfinite(d) & (d >= min_m) & (d <= max_m)
        if self.mask_exclude is not None:
            ok &= ~self.mask_exclude[rows, cols]
        return ok

    def points_world(self, stride: int = 1, min_m: float = 0.1, max_m: float = 3.0,
                     box: PixelBox | None = None) -> np.ndarray:
        """(N, 3) world points of the valid pixels, every `stride`-th row and column of the image,
        optionally inside `box` only."""
        rows, cols = self._grid(stride, box)
        v, u = np.nonzero(self.valid_mask(min_m, max_m, stride, box))
        v = v * stride + rows.start
        u = u * stride + cols.start
        z = self.depth_m[v, u].astype(float)
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        cam = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], axis=1)
        return cam @ self.T_world_camera[:3, :3].T + self.T_world_camera[:3, 3]

    def sphere_box(self, centre_world: np.ndarray, radius_m: float, pad_px: int = 0) -> PixelBox | None:
        """The pixels a sphere can cover (its bounding box in the image, grown by `pad_px` and clipped
        to the image); None when the sphere reaches within 5 cm of the camera's plane, where its
        image is unbounded."""
        centre = (np.asarray(centre_world, dtype=float) - self.T_world_camera[:3, 3]) @ self.T_world_camera[:3, :3]
        x, y, z = centre
        r = float(radius_m)
        if z - r < 0.05:
            return None
        near, far = z - r, z + r

        def span(c: float) -> tuple[float, float]:
            # extremes of c'/z' over the box |c' - c| <= r, z' in [near, far]
            high = (c + r) / (near if c + r >= 0 else far)
            low = (c - r) / (far if c - r >= 0 else near)
            return low, high

        h, w = self.depth_m.shape
        (xl, xh), (yl, yh) = span(x), span(y)
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        u0 = int(np.floor(fx * xl + cx)) - pad_px
        u1 = int(np.ceil(fx * xh + cx)) + 1 + pad_px
        v0 = int(np.floor(fy * yl + cy)) - pad_px
        v1 = int(np.ceil(fy * yh + cy)) + 1 + pad_px
        return max(v0, 0), min(max(v1, 0), h), max(u0, 0), min(max(u1, 0), w)

    def camera_position(self) -> np.ndarray:
        return self.T_world_camera[:3, 3].copy()
