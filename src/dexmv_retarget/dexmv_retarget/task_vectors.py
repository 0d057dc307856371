"""The ten task-space vectors of DexMV (Sec. 3.2): wrist to proximal joint and proximal joint to tip, per finger.

The same definitions apply to human keypoints and to the robot's keypoints (kinematics.py), so
the optimizer, the metrics and the markers all compare like with like. The thumb's proximal joint
is its MCP (keypoint 2): the wrist-to-CMC vector is nearly rigid in the palm and would carry no
thumb motion.

Five further "shape" vectors (proximal joint to the next joint: MCP to PIP, thumb MCP to IP) are
optional low-weight terms of the optimizer: the ten vectors fix where each fingertip is but not
how a finger bends to get there (MCP, PIP and DIP flexion in one plane are one degree of freedom
too many), and the human keypoints in between do say it. Metrics use the ten only.
"""

from __future__ import annotations

import numpy as np

from dexmv_retarget.hand_keypoints import FINGER_KEYPOINTS, FINGERS, WRIST

# (from, to) keypoint indices, and the chain of keypoints between them (for length scaling).
_WRIST_CHAINS = {"thumb": (WRIST, 1, 2), **{f: (WRIST, FINGER_KEYPOINTS[f][0]) for f in FINGERS[1:]}}
_FINGER_CHAINS = {"thumb": (2, 3, 4), **{f: FINGER_KEYPOINTS[f] for f in FINGERS[1:]}}
_SHAPE_CHAINS = {f: FINGER_KEYPOINTS[f][1:3] if f == "thumb" else FINGER_KEYPOINTS[f][:2] for f in FINGERS}
CHAINS: tuple[tuple[int, ...], ...] = (
    tuple(_WRIST_CHAINS[f] for f in FINGERS)
    + tuple(_FINGER_CHAINS[f] for f in FINGERS)
    + tuple(_SHAPE_CHAINS[f] for f in FINGERS)
)
VECTOR_PAIRS = np.array([(c[0], c[-1]) for c in CHAINS])  # (15, 2)
VECTOR_NAMES = (
    tuple(f"wrist->{f}_mcp" for f in FINGERS)
    + tuple(f"{f}_mcp->{f}_tip" for f in FINGERS)
    + ("thumb_mcp->thumb_ip",) + tuple(f"{f}_mcp->{f}_pip" for f in FINGERS[1:])
)
NUM_VECTORS = len(VECTOR_PAIRS)
NUM_TASK_VECTORS = 10  # the paper's ten come first; the rest are shape vectors
TASK = slice(0, NUM_TASK_VECTORS)
# Finger each vector belongs to (index into FINGERS).
VECTOR_FINGER = np.tile(np.arange(5), 3)
# Keypoints each vector needs: its two ends for the vector itself, its whole chain for its length.
_SEGMENTS = [(c[k], c[k + 1]) for c in CHAINS for k in range(len(c) - 1)]
_SEGMENT_VECTOR = np.array([i for i, c in enumerate(CHAINS) for _ in range(len(c) - 1)])


def task_vectors(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) keypoints -> (..., 15, 3) vectors (to minus from); [..., TASK, :] are the ten."""
    return keypoints[..., VECTOR_PAIRS[:, 1], :] - keypoints[..., VECTOR_PAIRS[:, 0], :]


def chain_lengths(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 15): length along the skeleton between each vector's ends.

    This is the vector's length when the chain is straight, a property of the hand rather than of
    the pose, which is what the human-to-robot size ratio must compare.
    """
    seg = np.array(_SEGMENTS)
    lengths = np.linalg.norm(keypoints[..., seg[:, 1], :] - keypoints[..., seg[:, 0], :], axis=-1)
    out = np.zeros((*keypoints.shape[:-2], NUM_VECTORS))
    for i in range(NUM_VECTORS):
        out[..., i] = lengths[..., i == _SEGMENT_VECTOR].sum(axis=-1)
    return out


def vector_validity(valid_keypoints: np.ndarray) -> np.ndarray:
    """(..., 21) bool -> (..., 15) bool: a vector counts only if both its ends are valid."""
    return valid_keypoints[..., VECTOR_PAIRS[:, 0]] & valid_keypoints[..., VECTOR_PAIRS[:, 1]]


def chain_validity(valid_keypoints: np.ndarray) -> np.ndarray:
    """(..., 21) bool -> (..., 15) bool: every keypoint along the vector's chain is valid."""
    out = np.ones((*valid_keypoints.shape[:-1], NUM_VECTORS), dtype=bool)
    for i, chain in enumerate(CHAINS):
        out[..., i] = valid_keypoints[..., list(chain)].all(axis=-1)
    return out
