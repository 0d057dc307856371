"""Human vectors scaled to the robot's size: per vector, robot chain length over human chain length.

A vector's chain length (task_vectors.chain_lengths) is its length with the chain straight, a
property of the hand and not of the pose. The ratio maps a straight human finger onto a straight
robot finger and a curled one onto a proportionally curled one, whatever the person's size.

Human lengths are measured from the keypoints: the median over the first `window` frames in which
the chain is valid, then frozen (causal, so streaming and batch agree; a median, so a few bad
frames do not move it). `HandScale.fixed(lengths)` or `calibrate` on a whole recording replace
the running estimate where the hand's size is known beforehand.
"""

from __future__ import annotations

import numpy as np

from dexmv_retarget.task_vectors import NUM_VECTORS, chain_lengths, chain_validity

# Human chains shorter than this are keypoint errors, not hands (the shortest is a phalanx, ~2 cm).
MIN_HUMAN_LENGTH = 0.005


class HandScale:
    """Per-vector scale factors; `update` feeds one frame, `factors` are robot / human lengths."""

    def __init__(self, robot_lengths: np.ndarray, window: int = 30, human_lengths: np.ndarray | None = None) -> None:
        if window < 1:
            raise ValueError(f"calibration window must be at least 1 frame, got {window}")
        self.robot_lengths = np.asarray(robot_lengths, dtype=float)
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
        ok = chain_validity(valid) & (lengths > MIN_HUMAN_LENGTH)
        for i in np.flatnonzero(ok):
            samples = self._samples[i]
            if len(samples) < self.window:
                samples.append(float(lengths[i]))
                self.human_lengths[i] = float(np.median(samples))

    def factors(self) -> np.ndarray:
        """(V,) robot/human ratios; a vector not measured yet borrows the median ratio of the others (or 1)."""
        if self._factors is not None:
            return self._factors
        ratio = self.robot_lengths / self.human_lengths
        known = np.isfinite(ratio)
        if not known.all():
            ratio = np.where(known, ratio, np.median(ratio[known]) if known.any() else 1.0)
        if self.frozen:
            self._factors = ratio  # fixed from now on: no need to recompute per frame
        return ratio


def human_lengths_from(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(T, 21, 3), (T, 21) -> (V,) median chain lengths over every valid frame (for `calibrate`)."""
    lengths = chain_lengths(keypoints)
    ok = chain_validity(valid) & (lengths > MIN_HUMAN_LENGTH)
    out = np.full(NUM_VECTORS, np.nan)
    for i in range(NUM_VECTORS):
        if ok[:, i].any():
            out[i] = np.median(lengths[ok[:, i], i])
    return out
