"""Smooth random Adroit joint trajectories within limits, and the keypoints the robot itself traces.

Ground truth for the round-trip test and benchmark: keypoints made by the robot's own geometry
can be matched exactly, so the retargeter's error on them measures the optimizer alone (no
human-to-robot shape mismatch), and the joints it recovers can be compared with the truth.
This is not a human hand model; natural human motion comes from dexmv_capture.
"""

from __future__ import annotations

import numpy as np

from dexmv_retarget.kinematics import AdroitKinematics


def smooth_joint_trajectory(kin: AdroitKinematics, frames: int, fps: float, seed: int,
                            max_frequency_hz: float = 1.0, margin: float = 0.05) -> np.ndarray:
    """(frames, 30) joints: per joint a sum of 3 random sinusoids up to `max_frequency_hz`, inside
    the limits shrunk by `margin` of each range on both sides, then projected onto the model's
    DIP-PIP couplings, so every frame is a pose the hand can take."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    n = kin.lower.size
    freq = rng.uniform(0.1, max_frequency_hz, size=(3, n))
    phase = rng.uniform(0, 2 * np.pi, size=(3, n))
    amp = rng.uniform(0.3, 1.0, size=(3, n))
    wave = np.einsum("kn,tkn->tn", amp, np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None]))
    wave /= amp.sum(axis=0)  # within [-1, 1]
    mid, half = 0.5 * (kin.lower + kin.upper), 0.5 * (kin.upper - kin.lower) * (1 - 2 * margin)
    return np.array([kin.project(q) for q in mid + half * wave])


def robot_keypoints(kin: AdroitKinematics, joints: np.ndarray, noise_m: float = 0.0, seed: int = 0) -> np.ndarray:
    """(T, 30) joints -> (T, 21, 3) world keypoints, with optional Gaussian noise (metres, seeded)."""
    kp = kin.keypoints(joints)
    if noise_m > 0:
        kp = kp + np.random.default_rng(seed).normal(scale=noise_m, size=kp.shape)
    return kp
