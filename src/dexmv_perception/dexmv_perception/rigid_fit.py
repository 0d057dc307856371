"""The rigid motion that best maps one set of corresponding points onto another (Kabsch).

Used where a nearly rigid part is followed through its points: the palm carrying a held object
(objects/tracker.py) and the palm's shape placing a wrist no camera measured (hand/tracker.py).
"""

from __future__ import annotations

import numpy as np


def rigid_motion(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The 4x4 rigid transform taking the (N, 3) points `before` onto `after` (least squares;
    a proper rotation, never a reflection). N >= 3 points, not all on one line, fix it."""
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    a, b = before - before.mean(axis=0), after - after.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    motion = np.eye(4)
    motion[:3, :3] = rot
    motion[:3, 3] = after.mean(axis=0) - rot @ before.mean(axis=0)
    return motion
