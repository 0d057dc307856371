"""The 21-keypoint hand skeleton (MediaPipe / MANO / OpenPose order) and what follows from it.

0 wrist; 1-4 thumb CMC, MCP, IP, tip; 5-8 index MCP, PIP, DIP, tip; 9-12 middle; 13-16 ring;
17-20 little.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 21
# (parent, child) for each of the 20 bones
BONES = np.array([(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11),
                  (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)])
PARENT = np.full(NUM_KEYPOINTS, -1)
PARENT[BONES[:, 1]] = BONES[:, 0]
WRIST, INDEX_MCP, MIDDLE_MCP, LITTLE_MCP = 0, 5, 9, 17
# Half the thickness of the hand at each keypoint (m): the depth camera sees the skin, the keypoint
# is the joint centre behind it. Adult hand anthropometry (finger breadths about 20 mm at the
# knuckles, 15 mm at the tips; the palm about 30 mm thick at the wrist crease); not fitted to any
# recording.
SURFACE_TO_JOINT_M = np.array([0.015,
                               0.012, 0.010, 0.009, 0.007,
                               0.011, 0.009, 0.008, 0.007,
                               0.011, 0.009, 0.008, 0.007,
                               0.010, 0.008, 0.008, 0.007,
                               0.010, 0.008, 0.007, 0.006])


def bone_lengths(keypoints: np.ndarray) -> np.ndarray:
    """(..., 20) bone lengths of (..., 21, 3) keypoints."""
    kp = np.asarray(keypoints, dtype=float)
    return np.linalg.norm(kp[..., BONES[:, 1], :] - kp[..., BONES[:, 0], :], axis=-1)


def wrist_frame(keypoints: np.ndarray) -> np.ndarray | None:
    """4x4 pose of the wrist: origin at the wrist, x towards the middle knuckle, z the palm normal
    (index x little knuckle directions for a right hand), y completing the frame; None if degenerate."""
    kp = np.asarray(keypoints, dtype=float)
    if not np.isfinite(kp[[WRIST, INDEX_MCP, MIDDLE_MCP, LITTLE_MCP]]).all():
        return None
    x = kp[MIDDLE_MCP] - kp[WRIST]
    across = kp[INDEX_MCP] - kp[LITTLE_MCP]
    z = np.cross(x, across)
    if np.linalg.norm(x) < 1e-6 or np.linalg.norm(z) < 1e-9:
        return None
    x /= np.linalg.norm(x)
    z /= np.linalg.norm(z)
    out = np.eye(4)
    out[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    out[:3, 3] = kp[WRIST]
    return out
