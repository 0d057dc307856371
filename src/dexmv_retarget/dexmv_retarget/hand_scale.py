"""Human vectors scaled to the robot's size.

The paper's ten vectors (task_vectors.PAPER) share ONE factor, the robot's summed chain lengths
over the human's (the scale the headline error uses, dex-retargeting's `scaling_factor`); every
other vector has its own: robot chain length over human chain length.

A vector's chain length (task_vectors.chain_lengths) is its length with the chain straight, a
property of the hand and not of the pose. The ratio maps a straight human finger onto a straight
robot finger and a curled one onto a proportionally curled one, whatever the person's size.

Human lengths are measured from the keypoints: the median over the first `window` frames in which
the chain is valid, then frozen (causal, so streaming and batch agree; a median, so a few bad
frames do not move it). `HandScale.fixed(lengths)` or `calibrate` on a whole recording replace
the running estimate where the hand's size is known beforehand. Chains outside
[MIN_HUMAN_LENGTH, MAX_HUMAN_LENGTH] never enter the estimate (frames that implausible are also
rejected before they get here, see plausibility.py), and `reset` starts a new estimate, which is
how the node re-calibrates without a restart.
"""

from __future__ import annotations

import numpy as np

from dexmv_retarget.task_vectors import NUM_VECTORS, PAPER, chain_lengths, chain_validity

# Human chains shorter than this are keypoint errors, not hands (the shortest is a phalanx, ~2 cm).
MIN_HUMAN_LENGTH = 0.005
# ... and longer than this (the longest chain, wrist to middle tip, is ~0.19 m on a large adult hand).
MAX_HUMAN_LENGTH = 0.35


class HandScale:
    """Per-vector scale factors; `update` feeds one frame, `factors` are robot / human lengths."""

    def __init__(self, robot_lengths: np.ndarray, window: int = 30, human_lengths: np.ndarray | None = None,
                 paper_scale: float | None = None) -> None:
        if window < 1:
            raise ValueError(f"calibration window must be at least 1 frame, got {window}")
        if paper_scale is not None and not (np.isfinite(paper_scale) and paper_scale > 0):
            raise ValueError(f"scaling_factor must be a positive number, got {paper_scale}")
        self.robot_lengths = np.asarray(robot_lengths, dtype=float)
        self._paper_scale = paper_scale
        self.window = window
        self._fixed = human_lengths is not None
        self._samples: list[list[float]] = [[] for _ in range(NUM_VECTORS)]
        self._factors: np.ndarray | None = None
        self._frames = 0
        self.human_lengths = (np.asarray(human_lengths, dtype=float).copy() if self._fixed
                              else np.full(NUM_VECTORS, np.nan))
        if self._fixed and (self.human_lengths.shape != (NUM_VECTORS,)
                            or not np.all(self.human_lengths > MIN_HUMAN_LENGTH)):
            raise ValueError(f"human lengths must be {NUM_VECTORS} positive lengths in metres, got {human_lengths}")

    @property
    def paper_scale(self) -> float:
        """The one factor of the paper's ten vectors (robot size / human size)."""
        return float(self.factors()[PAPER][0])

    @property
    def frozen(self) -> bool:
        """Fixed, or every vector has its `window` samples, or 10 windows of frames went by (a vector
        never seen by then, e.g. an always-occluded finger, keeps borrowing the others' ratio)."""
        return (self._fixed or self._factors is not None or self._frames >= 10 * self.window
                or all(len(s) >= self.window for s in self._samples))

    def reset(self) -> None:
        if not self._fixed:
            self._factors = None
            self._frames = 0
            self._samples = [[] for _ in range(NUM_VECTORS)]
            self.human_lengths = np.full(NUM_VECTORS, np.nan)

    def update(self, keypoints: np.ndarray, valid: np.ndarray) -> None:
        """Add one frame ((21, 3) keypoints, (21,) validity) to the running estimate."""
        if self.frozen:
            return
        self._frames += 1
        lengths = chain_lengths(keypoints)
        ok = chain_validity(valid) & (lengths > MIN_HUMAN_LENGTH) & (lengths < MAX_HUMAN_LENGTH)
        for i in np.flatnonzero(ok):
            samples = self._samples[i]
            if len(samples) < self.window:
                samples.append(float(lengths[i]))
                self.human_lengths[i] = float(np.median(samples))

    def factors(self) -> np.ndarray:
        """(V,) robot/human ratios (the paper's ten: one shared ratio); a vector not measured yet
        borrows the median ratio of the others (or 1)."""
        if self._factors is not None:
            return self._factors
        ratio = self.robot_lengths / self.human_lengths
        known = np.isfinite(ratio)
        if not known.all():
            ratio = np.where(known, ratio, np.median(ratio[known]) if known.any() else 1.0)
        ratio[PAPER] = (self._paper_scale if self._paper_scale is not None
                        else self.robot_lengths[PAPER].sum() / (self.robot_lengths[PAPER] / ratio[PAPER]).sum())
        if self.frozen:
            self._factors = ratio  # fixed from now on: no need to recompute per frame
        return ratio


def human_lengths_from(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, 21, 3), (T, 21) -> (V,) median chain lengths over every valid frame (for `calibrate`)."""
    lengths = chain_lengths(keypoints)
    ok = chain_validity(valid) & (lengths > MIN_HUMAN_LENGTH) & (lengths < MAX_HUMAN_LENGTH)
    out = np.full(NUM_VECTORS, np.nan)
    for i in range(NUM_VECTORS):
        if ok[:, i].any():
            out[i] = np.median(lengths[ok[:, i], i])
    return out
