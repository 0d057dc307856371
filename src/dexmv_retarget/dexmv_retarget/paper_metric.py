"""The retargeting error as DexMV defines it: the headline `tsv_error_mm` of every report.

DexMV (Sec. 3.2) measures retargeting by ten task-space vectors per frame: from the wrist to each
fingertip and from the wrist to each finger's PIP joint (for the thumb, the second joint of its
chain, keypoint 2, the MCP: the thumb's PIP position in MediaPipe/OpenPose order). The human
vectors are multiplied by ONE scale factor for the whole hand (dex-retargeting's
`scaling_factor`), so the figure rewards a robot hand that reproduces the human's fingertip and
knuckle positions, not per-vector proportions fitted to the sequence:

    tsv_error_mm = mean over frames and the ten vectors of |s * human_v - robot_v|   (mm)

`s` is either given (`scaling_factor`) or fitted once per sequence from hand size: the robot's
summed straight-chain lengths of the ten vectors over the human's, the human's measured as a
robust median over every frame where the whole hand is valid (outlier frames beyond 3 median
absolute deviations are dropped first). `dexmv retarget` and `dexmv bench retarget` both call
`evaluate` on their output joints, so one file gets one number.

In world mode the vectors are compared in the world frame. In fingers-only mode the arm is held
and the human's palm orientation is not followed, so each frame's human vectors are first rotated
by the rotation that best aligns the human and robot wrist-to-MCP vectors of the index, middle
and ring fingers (the rigid metacarpals; none of them is among the ten scored vectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexmv_retarget.hand_keypoints import FINGER_KEYPOINTS, FINGERS, WRIST

# The ten vectors: wrist -> tip of each finger, then wrist -> PIP (thumb: keypoint 2).
PAPER_VECTOR_PAIRS = np.array(
    [(WRIST, FINGER_KEYPOINTS[f][3]) for f in FINGERS] + [(WRIST, FINGER_KEYPOINTS[f][1]) for f in FINGERS])
PAPER_VECTOR_NAMES = tuple(f"wrist->{f}_tip" for f in FINGERS) + tuple(
    f"wrist->{'thumb_mcp' if f == 'thumb' else f + '_pip'}" for f in FINGERS)
# The skeleton path of each vector (for its straight length, a property of the hand, not the pose).
_PATHS = [(WRIST, *FINGER_KEYPOINTS[f]) for f in FINGERS] + [(WRIST, *FINGER_KEYPOINTS[f][:2]) for f in FINGERS]
_SEGMENTS = sorted({(p[k], p[k + 1]) for p in _PATHS for k in range(len(p) - 1)})
_SEG_USE = np.array([[sum(1 for k in range(len(p) - 1) if (p[k], p[k + 1]) == s) for p in _PATHS]
                     for s in _SEGMENTS], dtype=float).sum(axis=1)  # times each segment appears in the ten paths
_SEG_A = np.array([a for a, _ in _SEGMENTS])
_SEG_B = np.array([b for _, b in _SEGMENTS])
# Rigid metacarpals used to align palms in fingers-only mode: wrist -> index, middle, ring MCP.
_ALIGN_POINTS = (FINGER_KEYPOINTS["index"][0], FINGER_KEYPOINTS["middle"][0], FINGER_KEYPOINTS["ring"][0])


def hand_size(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (...,) summed straight lengths of the ten vectors' skeleton paths (m); NaN if any is missing."""
    seg = keypoints[..., _SEG_B, :] - keypoints[..., _SEG_A, :]
    return np.linalg.norm(seg, axis=-1) @ _SEG_USE


def robust_hand_size(keypoints: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Median hand size over the frames where every keypoint is valid, after dropping frames beyond
    3 median absolute deviations (a burst of wrongly scaled frames cannot move it). NaN if none."""
    sizes = hand_size(keypoints)
    ok = np.isfinite(sizes) & (sizes > 0)
    if valid is not None:
        ok &= np.asarray(valid).all(axis=-1)
    sizes = sizes[ok]
    if sizes.size == 0:
        return float("nan")
    median = np.median(sizes)
    mad = np.median(np.abs(sizes - median))
    if mad > 0:
        sizes = sizes[np.abs(sizes - median) <= 3.0 * 1.4826 * mad]
    return float(np.median(sizes))


def paper_vectors(keypoints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> (..., 10, 3): wrist -> tips, then wrist -> PIPs."""
    return keypoints[..., PAPER_VECTOR_PAIRS[:, 1], :] - keypoints[..., PAPER_VECTOR_PAIRS[:, 0], :]


def _palm_alignments(human: np.ndarray, robot: np.ndarray) -> np.ndarray:
    """(T, 3, 3) per-frame rotations taking human wrist->MCP vectors (index, middle, ring) onto the robot's."""
    idx = list(_ALIGN_POINTS)
    h = human[:, idx] - human[:, WRIST : WRIST + 1]
    r = robot[:, idx] - robot[:, WRIST : WRIST + 1]
    out = np.tile(np.eye(3), (len(human), 1, 1))
    good = np.isfinite(h).all(axis=(1, 2))
    if good.any():
        u, _, vt = np.linalg.svd(np.einsum("tki,tkj->tij", h[good], r[good]))
        d = np.sign(np.linalg.det(u @ vt))
        fix = np.ones((good.sum(), 3))
        fix[:, 2] = d
        out[good] = np.transpose(u * fix[:, None, :] @ vt, (0, 2, 1))
    return out


@dataclass
class PaperTSV:
    """The paper's retargeting error of one sequence."""

    errors_mm: np.ndarray  # (T, 10) per frame and vector; NaN where a human keypoint was missing
    scale: float  # the one factor the human vectors were multiplied by
    scale_source: str  # "given" or "fitted from hand size"

    @property
    def tsv_error_mm(self) -> float:
        used = np.isfinite(self.errors_mm)
        return float(self.errors_mm[used].mean()) if used.any() else float("nan")

    def per_vector_mm(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for i, name in enumerate(PAPER_VECTOR_NAMES):
            col = self.errors_mm[:, i]
            out[name] = float(np.nanmean(col)) if np.isfinite(col).any() else None
        return out


def fit_scale(human: np.ndarray, robot_rest: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Robot size over the human's robust size: the one factor that maps this human hand onto the robot's."""
    human_size = robust_hand_size(human, valid)
    if not np.isfinite(human_size):
        raise ValueError("no frame with a complete hand: cannot fit the hand scale (give scaling_factor)")
    return float(hand_size(robot_rest) / human_size)


def evaluate(human: np.ndarray, robot: np.ndarray, robot_rest: np.ndarray, valid: np.ndarray | None = None,
             fingers_only: bool = False, scaling_factor: float | None = None) -> PaperTSV:
    """The paper's error of robot keypoints (T, 21, 3) against human keypoints (T, 21, 3) (same frame).

    robot_rest: (21, 3) robot keypoints with every joint at 0 (straight fingers), for the robot's size.
    valid: (T, 21) bool, keypoints to use (default: finite ones). Frames whose output was held
    still count: the error of what the robot did is what the figure measures.
    """
    human = np.asarray(human, dtype=float)
    robot = np.asarray(robot, dtype=float)
    if valid is None:
        valid = np.isfinite(human).all(axis=-1)
    if scaling_factor is not None:
        if not (np.isfinite(scaling_factor) and scaling_factor > 0):
            raise ValueError(f"scaling_factor must be a positive number, got {scaling_factor}")
        scale, source = float(scaling_factor), "given"
    else:
        scale, source = fit_scale(human, robot_rest, valid), "fitted from hand size"
    hv = paper_vectors(np.where(valid[..., None], human, np.nan)) * scale
    if fingers_only:
        rot = _palm_alignments(np.where(valid[..., None], human, np.nan), robot)
        hv = np.einsum("tij,tkj->tki", rot, hv)
    err = np.linalg.norm(hv - paper_vectors(robot), axis=-1) * 1000.0
    return PaperTSV(err, scale, source)


def score(kinematics, keypoints: np.ndarray, joints: np.ndarray, valid: np.ndarray, fingers_only: bool = False,
          scaling_factor: float | None = None) -> PaperTSV:
    """The headline figure of a retargeted sequence: human keypoints (T, 21, 3), output joints (T, 30).

    valid: (T, 21) keypoints to score (missing, low-confidence and rejected frames excluded by the
    caller); the scale is fitted on the same frames unless given (a window of a longer sequence is
    scored with the whole sequence's scale, so one file gets one number).
    """
    robot = kinematics.keypoints(np.asarray(joints, dtype=float))
    rest = kinematics.keypoints(np.zeros(len(kinematics.lower)))
    return evaluate(keypoints, robot, rest, valid, fingers_only, scaling_factor)
