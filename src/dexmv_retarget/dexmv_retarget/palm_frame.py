"""The palm frame of a 21-keypoint hand: origin at the wrist, built from the wrist, index MCP and little MCP.

Applied alike to human keypoints and to the robot's own keypoints, so the constant rotation
between this frame and the Adroit palm body is measured once on the robot (initial_guess.py)
and the human palm orientation maps onto the robot without any hand-tuned offset.

Axes (right hand): z from the wrist toward the midpoint of the index and little MCPs (along the
fingers), x from the little toward the index MCP made orthogonal to z, y = z cross x (out of the
back of the hand for a right hand, as the Adroit palm body's y axis).
"""

from __future__ import annotations

import numpy as np

from dexmv_retarget.hand_keypoints import INDEX_MCP, LITTLE_MCP, WRIST


def palm_rotation(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 3, 3) rotation whose columns are the palm axes in the keypoints' frame.

    NaN where a palm keypoint is NaN or the three are (nearly) collinear.
    """
    wrist = keypoints[..., WRIST, :]
    index = keypoints[..., INDEX_MCP, :]
    little = keypoints[..., LITTLE_MCP, :]
    z = 0.5 * (index + little) - wrist
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    across = index - little
    x = across - np.sum(across * z, axis=-1, keepdims=True) * z
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    # A degenerate palm (MCPs on the wrist-knuckle line) has no orientation: NaN, never a guess.
    x = np.where(norm > 1e-3 * np.linalg.norm(across, axis=-1, keepdims=True), x / norm, np.nan)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def fit_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3) minimizing sum |R source_i - target_i|^2 over (K, 3) vector pairs (Kabsch).

    The hand-relative (fingers-only) mode aligns the human palm with the robot palm this way, on
    the wrist-to-MCP vectors of the index, middle and ring fingers: the metacarpals that are rigid
    in both hands. (The 3-keypoint frame above tilts with the little finger's metacarpal, up to 25
    degrees on the robot, which the optimizer corrects in world mode but nothing would here.)
    """
    u, _, vt = np.linalg.svd(source.T @ target)
    r = u @ vt
    (a, b, c), (d, e, f), (g, h, i) = r.tolist()  # its determinant is +-1: plain floats decide the sign
    if a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g) < 0:  # a reflection: flip the last axis
        u[:, 2] = -u[:, 2]
        r = u @ vt
    return r.T


def mirror_hand(keypoints: np.ndarray) -> np.ndarray:
    """A left hand as the right hand in the same place and pose, and vice versa: (..., 21, 3) -> same.

    Reflects every keypoint across the hand's own mid-plane: the plane through the wrist that
    contains the wrist-to-knuckles direction and the palm normal. Fingers keep pointing the same
    way, the palm keeps facing the same way, the thumb changes sides. Adroit is a right hand, so
    left hands are retargeted mirrored. NaN where the palm keypoints are missing.
    """
    x = palm_rotation(keypoints)[..., :, 0]  # across the palm: normal of the mid-plane
    rel = keypoints - keypoints[..., WRIST : WRIST + 1, :]
    return keypoints - 2.0 * np.sum(rel * x[..., None, :], axis=-1, keepdims=True) * x[..., None, :]
