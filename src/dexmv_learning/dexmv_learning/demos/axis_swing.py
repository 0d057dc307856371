"""The least rotation that turns one axis onto another (a "swing", with no turn about the axis).

A held mug's turn about its own axis is perception's weakest estimate (its handle is in the
fingers), while where the axis points is good to a few degrees; the demonstrations therefore follow
held mugs by the motion of their axis alone: the robot's pour (robot_grasp.tilt_only) and the hand
carried across a perception gap (gaps).
"""

from __future__ import annotations

import numpy as np

PARALLEL_SIN = 1e-9  # axes closer than this (sine of the angle) are taken as the same: no swing


def swing(a: np.ndarray, b: np.ndarray):
    """scipy Rotation(s) turning unit vector(s) `a` onto `b` ((3,) or (N, 3), broadcast) about
    their common normal. Exactly opposite axes, which a held object does not reach between two
    frames, get no swing either."""
    from scipy.spatial.transform import Rotation

    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    axes = np.cross(a, b)
    sin, cos = np.linalg.norm(axes, axis=-1), np.einsum("...i,...i->...", a, b)
    unit = np.where(sin[..., None] > PARALLEL_SIN, axes / np.maximum(sin, 1e-12)[..., None], 0.0)
    return Rotation.from_rotvec(unit * np.arctan2(sin, cos)[..., None])
