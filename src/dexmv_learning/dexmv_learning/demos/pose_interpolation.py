"""Smooth interpolation of object poses in time: a cubic spline for the position, slerp for the
orientation (a spline on quaternion components leaves the unit sphere).

One place for it because two steps resample the perceived object: the conversion from camera
rate to the 100 Hz control rate, and the horizon fitting that replays the motion faster.
"""

from __future__ import annotations

import numpy as np


def interpolate_poses(t_src: np.ndarray, poses: np.ndarray, t_new: np.ndarray, *,
                      scalar_first: bool) -> np.ndarray:
    """(N, 7) xyz + quaternion at times `t_src` -> (len(t_new), 7) at `t_new`, same layout.

    `scalar_first`: the quaternions are w, x, y, z (MuJoCo) rather than x, y, z, w (ROS, scipy).
    Times outside `t_src` hold the orientation at the nearest end; two samples interpolate
    linearly, one is held."""
    from scipy.interpolate import CubicSpline
    from scipy.spatial.transform import Rotation, Slerp

    t_src = np.asarray(t_src, dtype=float)
    t_new = np.asarray(t_new, dtype=float)
    quat = np.roll(poses[:, 3:], -1, axis=1) if scalar_first else poses[:, 3:]
    if len(t_src) >= 2:
        pos = CubicSpline(t_src, poses[:, :3], axis=0)(t_new)
        q_new = Slerp(t_src, Rotation.from_quat(quat))(np.clip(t_new, t_src[0], t_src[-1])).as_quat()
    else:
        pos = np.repeat(poses[:1, :3], len(t_new), axis=0)
        q_new = np.repeat(quat[:1], len(t_new), axis=0)
    if scalar_first:
        q_new = np.roll(q_new, 1, axis=1)
    return np.concatenate([pos, q_new], axis=1)
