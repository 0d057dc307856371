"""The task-space vectors of DexMV's retargeting (Sec. 3.2) and the optimizer's extra terms.

The same definitions apply to human keypoints and to the robot's keypoints (kinematics.py), so
the optimizer, the metrics and the markers all compare like with like. Three groups, in order:

- PAPER (0-9): the paper's ten vectors, wrist to each fingertip and wrist to each PIP (thumb:
  keypoint 2, its MCP). The headline error (`paper_metric.py`) scores these, with one scale for
  the whole hand, and the optimizer targets them with that same single scale.
- SEGMENT (10-19): wrist to proximal joint and proximal joint to tip per finger, each scaled by
  its own robot/human chain ratio: they keep each finger's proportions when robot and human
  fingers differ in relative length (the single scale cannot).
- SHAPE (20-24): proximal joint to the next joint (MCP to PIP, thumb MCP to IP), low weight: the
  vectors above fix where each fingertip is but not how a finger bends to get there (MCP, PIP and
  DIP flexion in one plane are one degree of freedom too many), and the human keypoints do say it.
"""

from __future__ import annotations

import numpy as np

from dexmv_retarget.hand_keypoints import FINGER_KEYPOINTS, FINGERS, WRIST

# (from, to) keypoint indices, and the chain of keypoints between them (for length scaling).
_WRIST_CHAINS = {"thumb": (WRIST, 1, 2), **{f: (WRIST, FINGER_KEYPOINTS[f][0]) for f in FINGERS[1:]}}
_FINGER_CHAINS = {"thumb": (2, 3, 4), **{f: FINGER_KEYPOINTS[f] for f in FINGERS[1:]}}
_SHAPE_CHAINS = {f: FINGER_KEYPOINTS[f][1:3] if f == "thumb" else FINGER_KEYPOINTS[f][:2] for f in FINGERS}
_TIP_CHAINS = {f: (WRIST, *FINGER_KEYPOINTS[f]) for f in FINGERS}
_PIP_CHAINS = {f: (WRIST, *FINGER_KEYPOINTS[f][:2]) for f in FINGERS}
CHAINS: tuple[tuple[int, ...], ...] = (
    tuple(_TIP_CHAINS[f] for f in FINGERS)
    + tuple(_PIP_CHAINS[f] for f in FINGERS)
    + tuple(_WRIST_CHAINS[f] for f in FINGERS)
    + tuple(_FINGER_CHAINS[f] for f in FINGERS)
    + tuple(_SHAPE_CHAINS[f] for f in FINGERS)
)
VECTOR_PAIRS = np.array([(c[0], c[-1]) for c in CHAINS])  # (25, 2)
VECTOR_NAMES: tuple[str, ...] = (
    *(f"wrist->{f}_tip" for f in FINGERS),
    "wrist->thumb_mcp", *(f"wrist->{f}_pip" for f in FINGERS[1:]),
    *(f"wrist->{f}_mcp" for f in FINGERS),
    *(f"{f}_mcp->{f}_tip" for f in FINGERS),
    "thumb_mcp->thumb_ip", *(f"{f}_mcp->{f}_pip" for f in FINGERS[1:]),
)
NUM_VECTORS = len(VECTOR_PAIRS)
NUM_TASK_VECTORS = 10  # the paper's ten come first
TASK = PAPER = slice(0, NUM_TASK_VECTORS)
SEGMENT = slice(10, 20)
SHAPE = slice(20, 25)
# Finger each vector belongs to (index into FINGERS).
VECTOR_FINGER = np.tile(np.arange(5), 5)
# Keypoints each vector needs: its two ends for the vector itself, its whole chain for its length.
_SEGMENTS = [(c[k], c[k + 1]) for c in CHAINS for k in range(len(c) - 1)]
_SEG_A = np.array([a for a, _ in _SEGMENTS])
_SEG_B = np.array([b for _, b in _SEGMENTS])
_SEGMENT_SUM = np.zeros((len(_SEGMENTS), len(CHAINS)))  # segment lengths @ this = chain lengths
for _j, _i in enumerate(i for i, c in enumerate(CHAINS) for _ in range(len(c) - 1)):
    _SEGMENT_SUM[_j, _i] = 1.0
_CHAIN_MEMBERS = np.zeros((21, len(CHAINS)))  # invalid keypoints @ this = invalid members per chain
for _i, _c in enumerate(CHAINS):
    _CHAIN_MEMBERS[list(_c), _i] = 1.0


def task_vectors(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) keypoints -> (..., 15, 3) vectors (to minus from); [..., TASK, :] are the ten."""
    return keypoints[..., VECTOR_PAIRS[:, 1], :] - keypoints[..., VECTOR_PAIRS[:, 0], :]


def chain_lengths(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 15): length along the skeleton between each vector's ends.

    This is the vector's length when the chain is straight, a property of the hand rather than of
    the pose, which is what the human-to-robot size ratio must compare.
    """
    seg = keypoints[..., _SEG_B, :] - keypoints[..., _SEG_A, :]
    lengths = np.sqrt(np.sum(seg * seg, axis=-1))
    missing = np.isnan(lengths)
    if missing.any():  # NaN * 0 is NaN: sum the known segments, then mark chains with a missing one
        return np.where(missing.astype(np.float64) @ _SEGMENT_SUM > 0, np.nan,
                        np.where(missing, 0.0, lengths) @ _SEGMENT_SUM)
    return lengths @ _SEGMENT_SUM


def vector_validity(valid_keypoints: np.ndarray) -> np.ndarray:
    """(..., 21) bool -> (..., 15) bool: a vector counts only if both its ends are valid."""
    return valid_keypoints[..., VECTOR_PAIRS[:, 0]] & valid_keypoints[..., VECTOR_PAIRS[:, 1]]


def chain_validity(valid_keypoints: np.ndarray) -> np.ndarray:
    """(..., 21) bool -> (..., 15) bool: every keypoint along the vector's chain is valid."""
    return (~valid_keypoints).astype(np.float64) @ _CHAIN_MEMBERS == 0
