"""Is this a human hand where a robot can follow it? Checks that reject nonsense before it moves the robot.

NaN checks are not enough: all-zero keypoints, a hand 100 m away, keypoints in millimetres,
another skeleton's joint order, a mirrored (left) hand, or camera-frame points fed as world points
are all finite, and an optimizer happily fits them. Each check here names a reason; a frame that
fails any is REJECTED by the retargeter (the robot holds its last good solution) and the reason is
reported (the node logs each reason, throttled per reason, and counts them on /diagnostics).

- bone_length: every bone between two valid keypoints within generous human ranges (adult and
  child hands; a bone 3x too long or of zero length is not a hand). Catches zeros, huge values,
  unit mistakes, bursts of wrongly scaled frames and most wrong joint orders.
- stray keypoints (`stray_keypoints`, before the checks): a hand whose palm is sound and only a
  few finger bones are off is a hand with a few keypoints misplaced (a detector's finger put on its
  neighbour or collapsed behind a grasped object), not nonsense: the retargeter drops the outer
  keypoint of each such bone (the vectors that need it are left out) and follows the rest,
  instead of freezing the whole hand and jumping when the next frame passes.
- keypoint_order: adjacent knuckles (index-middle-ring-little MCP) close together across the palm,
  and the fingers' MCPs closer to the wrist than their tips can be for a straight finger plus
  margin. Catches other skeletons' orders (e.g. MANO's raw joint order: index, middle, little,
  ring, thumb) that bone lengths alone may pass.
- handedness: the fingers bend toward the back of the hand, which a right hand cannot do but a
  mirrored or left hand does (Adroit is a right hand: use the left-hand option to mirror it).
  Only decided when the fingers are clearly bent; a flat hand passes.
- workspace (world mode only): the wrist within the box the robot's palm can reach (from the arm's
  joint limits, plus a margin). Catches camera-frame input retargeted as world input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dexmv_retarget.hand_keypoints import FINGER_KEYPOINTS, FINGERS, WRIST

# (parent, child, min m, max m): generous human ranges (child to large adult, with 30-50 % slack).
_METACARPAL = (0.035, 0.13)
_PROXIMAL = (0.015, 0.075)
_MIDDLE = (0.010, 0.055)
_DISTAL = (0.008, 0.045)
BONES: tuple[tuple[int, int, float, float], ...] = (
    (WRIST, 1, 0.010, 0.09), (1, 2, 0.020, 0.075), (2, 3, 0.015, 0.055), (3, 4, 0.010, 0.050),
    *[(a, b, lo, hi) for f in FINGERS[1:]
      for (a, b), (lo, hi) in zip(((WRIST, FINGER_KEYPOINTS[f][0]), FINGER_KEYPOINTS[f][0:2],
                                   FINGER_KEYPOINTS[f][1:3], FINGER_KEYPOINTS[f][2:4]),
                                  (_METACARPAL, _PROXIMAL, _MIDDLE, _DISTAL), strict=True)],
)
_BONE_A = np.array([b[0] for b in BONES])
_BONE_B = np.array([b[1] for b in BONES])
_BONE_LO = np.array([b[2] for b in BONES])
_BONE_HI = np.array([b[3] for b in BONES])
_MCPS = tuple(FINGER_KEYPOINTS[f][0] for f in FINGERS[1:])
MAX_KNUCKLE_GAP = 0.045  # m between adjacent MCPs (about 2 cm on a real hand)
# Handedness: mean height of the bent finger joints above the palm plane (m, + = back of the hand).
_BENT_JOINTS = tuple(k for f in FINGERS[1:] for k in FINGER_KEYPOINTS[f][1:])
MIRRORED_HEIGHT = 0.015
_BENT = np.array(_BENT_JOINTS)
_MCP_A, _MCP_B = np.array(_MCPS[:-1]), np.array(_MCPS[1:])
_NUM_BONES = len(BONES)
_SPAN_A, _SPAN_B = np.concatenate([_BONE_A, _MCP_A]), np.concatenate([_BONE_B, _MCP_B])
_PALM = np.array([WRIST, _MCPS[0], _MCPS[-1]])
_PALM_BONE = _BONE_A == WRIST  # the thumb's base and the four metacarpals
MAX_STRAY_BONES = 3  # more finger bones off than this: not a few misplaced keypoints


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned box (world, m) the wrist must lie in; see `Workspace.of_robot`."""

    lower: np.ndarray
    upper: np.ndarray

    @staticmethod
    def of_robot(kinematics, margin: float = 0.10, samples: int = 4000) -> Workspace:
        """The box of palm-origin positions over arm and wrist configurations within the joint limits
        (every corner of the slide ranges, plus `samples` seeded random configurations), grown by
        `margin`: where the robot can put its palm, computed from the model, not typed in."""
        from itertools import product

        n = len(kinematics.lower)
        lo, hi = kinematics.lower[:8], kinematics.upper[:8]
        rng = np.random.default_rng(0)
        q = np.zeros((samples + 2**8, n))
        q[:samples, :8] = lo + rng.random((samples, 8)) * (hi - lo)
        q[samples:, :8] = np.array(list(product(*zip(lo, hi, strict=True))))
        wrists = kinematics.keypoints(q)[:, WRIST]
        lower = wrists.min(axis=0) - margin
        lower[2] = max(lower[2], -0.02)  # world is the table frame: a wrist under the table is no hand
        return Workspace(lower, wrists.max(axis=0) + margin)


@dataclass(frozen=True)
class Verdict:
    """Empty `reasons` = plausible. Reasons are short keys (for counting) with a human message each."""

    reasons: tuple[str, ...]
    messages: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons

    def describe(self) -> str:
        return "; ".join(self.messages)


REASONS = ("bone_length", "keypoint_order", "handedness", "workspace")


def _span_lengths(keypoints: np.ndarray) -> np.ndarray:
    """Lengths of the bones, then of the gaps between adjacent knuckles."""
    spans = keypoints[_SPAN_B] - keypoints[_SPAN_A]
    return np.sqrt(np.einsum("ij,ij->i", spans, spans))


def _bones_off(bone: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(20,) bool: bones between two valid keypoints outside the human range."""
    return ~((bone >= _BONE_LO) & (bone <= _BONE_HI)) & valid[_BONE_A] & valid[_BONE_B]


def stray_keypoints(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(21,) bool: keypoints to drop as misplaced (module docstring): the outer end of each finger
    bone outside the human range, where the palm's bones are all in range and at most
    MAX_STRAY_BONES finger bones are off; none otherwise (`check_hand` then judges the frame)."""
    wrong = _bones_off(_span_lengths(keypoints)[:_NUM_BONES], valid)
    stray = np.zeros(len(keypoints), dtype=bool)
    if wrong.any() and not (wrong & _PALM_BONE).any() and wrong.sum() <= MAX_STRAY_BONES:
        stray[_BONE_B[wrong]] = True
    return stray


def check_hand(keypoints: np.ndarray, valid: np.ndarray, workspace: Workspace | None = None) -> Verdict:
    """Check one frame: (21, 3) keypoints, (21,) validity. `workspace` None skips the wrist check.

    Runs on every frame of the live stream: a handful of small numpy operations (bones and knuckle
    gaps in one vectorised pass, the palm frame's y axis in plain floats).
    """
    reasons: list[str] = []
    messages: list[str] = []
    all_valid = bool(valid.all())
    lengths = _span_lengths(keypoints)
    bone = lengths[:_NUM_BONES]
    wrong = _bones_off(bone, valid)
    if wrong.any():
        bad = [f"{_BONE_A[i]}-{_BONE_B[i]} {1000 * bone[i]:.0f} mm (human {1000 * _BONE_LO[i]:.0f}-"
               f"{1000 * _BONE_HI[i]:.0f})" for i in np.flatnonzero(wrong)]
        reasons.append("bone_length")
        messages.append(f"bone lengths not a human hand's: {', '.join(bad[:3])}"
                        + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
                        + " (metres expected; all zeros or a wrong scale?)")
        return Verdict(tuple(reasons), tuple(messages))  # the other checks assume a hand-sized hand
    gaps = lengths[_NUM_BONES:]
    if not all_valid:
        gaps = gaps[valid[_MCP_A] & valid[_MCP_B]]
    widest = float(gaps.max()) if gaps.size else 0.0
    if widest > MAX_KNUCKLE_GAP:
        reasons.append("keypoint_order")
        messages.append(f"adjacent knuckles {1000 * widest:.0f} mm apart: keypoints not in the expected "
                        "order (0 wrist, 1-4 thumb, 5-8 index, 9-12 middle, 13-16 ring, 17-20 little)")
    if all_valid or valid[_PALM].all():
        bent = _BENT if all_valid else _BENT[valid[_BENT]]
        height = _bent_height(keypoints, bent) if bent.size else None
        if height is not None and height > MIRRORED_HEIGHT:
            reasons.append("handedness")
            messages.append(f"fingers bend {1000 * height:.0f} mm toward the back of the hand: a left or "
                            "mirrored hand? (mirror it: --left-hand / left_hand)")
    if workspace is not None and valid[WRIST]:
        wrist = keypoints[WRIST]
        if (wrist < workspace.lower).any() or (wrist > workspace.upper).any():
            reasons.append("workspace")
            messages.append(f"wrist at {np.round(wrist, 3).tolist()} m is outside the robot's reach "
                            f"{np.round(workspace.lower, 2).tolist()} .. {np.round(workspace.upper, 2).tolist()} "
                            "(keypoints in the camera frame? give the frame's transform)")
    return Verdict(tuple(reasons), tuple(messages))


def _bent_height(keypoints: np.ndarray, bent: np.ndarray) -> float | None:
    """Mean height (m) of keypoints `bent` above the palm plane along the palm frame's y axis (out
    of the back of a right hand: palm_frame.palm_rotation's second column), None where the palm is
    degenerate (where palm_rotation is NaN). Plain floats: on 3-vectors numpy's per-call cost dominates."""
    (wx, wy, wz), (ix, iy, iz), (lx, ly, lz) = keypoints[_PALM].tolist()
    zx, zy, zz = 0.5 * (ix + lx) - wx, 0.5 * (iy + ly) - wy, 0.5 * (iz + lz) - wz
    zn = math.sqrt(zx * zx + zy * zy + zz * zz)
    ax, ay, az = ix - lx, iy - ly, iz - lz
    if not zn > 0.0:  # NaN fails too
        return None
    zx, zy, zz = zx / zn, zy / zn, zz / zn
    along = ax * zx + ay * zy + az * zz
    xx, xy, xz = ax - along * zx, ay - along * zy, az - along * zz
    xn = math.sqrt(xx * xx + xy * xy + xz * xz)
    if not xn > 1e-3 * math.sqrt(ax * ax + ay * ay + az * az):
        return None
    yx, yy, yz = (zy * xz - zz * xy) / xn, (zz * xx - zx * xz) / xn, (zx * xy - zy * xx) / xn
    mx, my, mz = (keypoints[bent].sum(axis=0) / len(bent)).tolist()
    return (mx - wx) * yx + (my - wy) * yy + (mz - wz) * yz
