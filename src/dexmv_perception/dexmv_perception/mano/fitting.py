"""Fit MANO's shape, pose and translation to 21 hand keypoints (the fused, filtered ones, in `world`).

Why this way: the 21 keypoints fix the joint positions but not every MANO parameter (a finger
segment's twist about its own axis moves no keypoint), so the fit works in MANO's PCA pose space
with a small prior on the coefficients and on the shape, which keeps the hand plausible where the
keypoints say nothing. It starts from the palm's rigid alignment (Kabsch on wrist and the four
finger MCPs), then L-BFGS on orientation and translation, then on everything. A previous frame's
fit as `init` skips the alignment, which makes streaming fits a few iterations each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from dexmv_perception.mano.layer import ManoLayer
from dexmv_perception.mano.model_file import ManoModel

PALM_KEYPOINTS = (0, 5, 9, 13, 17, 1)  # wrist, the four finger MCPs, thumb CMC: nearly rigid
MIN_HAND_SPAN_M = 0.04  # wrist to farthest keypoint: a child's hand is ~0.1 m, an adult's ~0.2 m
MAX_HAND_SPAN_M = 0.40


class ManoFitError(ValueError):
    """Keypoints a hand cannot have (too few, not finite, implausible size); the message says which."""


@dataclass
class ManoFit:
    """A fitted MANO hand: the HandPose message's MANO fields plus how well it fits.

    betas (10,), pose (48,) axis-angle (global orientation, then MANO's 15 finger joints; full
    pose, flat hand = 0), translation (3,) metres, keypoint_error_mm: mean distance of the fitted
    21 keypoints to the given ones (weighted by confidence), keypoints: the fitted ones (21, 3).
    """

    betas: np.ndarray
    pose: np.ndarray
    translation: np.ndarray
    keypoint_error_mm: float
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((21, 3)))


@dataclass(frozen=True)
class FitterConfig:
    num_pca: int = 45  # PCA components of the finger pose that are optimized (45: every dof)
    shape_prior: float = 1e-3  # weight of |betas|^2 against the mean squared keypoint error in cm^2
    pose_prior: float = 1e-3  # weight of |pca coefficients|^2
    iterations: int = 60  # L-BFGS iterations of the full stage (from scratch)
    warm_iterations: int = 20  # ... when starting from a previous fit


def _kabsch(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation c minimizing sum w |R src + c - dst|^2."""
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    h = (src - ms).T @ ((dst - md) * w[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rot, md - rot @ ms


@contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class ManoFitter:
    """Fits `model` to keypoints; one fitter per hand stream (it keeps no state between calls)."""

    def __init__(self, model: ManoModel, config: FitterConfig | None = None) -> None:
        self.config = config or FitterConfig()
        if not 1 <= self.config.num_pca <= 45:
            raise ValueError(f"num_pca must be in 1..45, got {self.config.num_pca}")
        self.layer = ManoLayer(model)
        self.num_betas = self.layer.num_betas

    def _check(self, keypoints: np.ndarray, confidence: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        kp = np.asarray(keypoints, dtype=float)
        if kp.shape != (21, 3):
            raise ManoFitError(f"keypoints must be (21, 3), got {kp.shape}")
        w = np.ones(21) if confidence is None else np.asarray(confidence, dtype=float).reshape(-1)
        if w.shape != (21,):
            raise ManoFitError(f"confidence must be (21,), got {w.shape}")
        w = np.where(np.isfinite(w), np.clip(w, 0.0, 1.0), 0.0)
        finite = np.all(np.isfinite(kp), axis=1)
        w = np.where(finite, w, 0.0)
        kp = np.where(finite[:, None], kp, 0.0)
        palm = np.array(PALM_KEYPOINTS)
        if np.count_nonzero(w[palm] > 0) < 3 or np.count_nonzero(w > 0) < 6:
            raise ManoFitError("too few keypoints with confidence: need 3 of the palm's (wrist, MCPs) and 6 in all")
        pts = kp[w > 0]
        span = float(np.max(np.linalg.norm(pts - pts.mean(axis=0), axis=1))) * 2.0
        if not MIN_HAND_SPAN_M <= span <= MAX_HAND_SPAN_M:
            raise ManoFitError(f"keypoints span {span:.3f} m, not a hand (expected {MIN_HAND_SPAN_M}-"
                               f"{MAX_HAND_SPAN_M} m): check the units (metres) and the keypoint source")
        return kp, w

    def fit(self, keypoints_world: np.ndarray, confidence: np.ndarray | None = None,
            init: ManoFit | None = None) -> ManoFit:
        """Shape, pose and translation whose 21 keypoints best match `keypoints_world` (metres)."""
        kp, w = self._check(keypoints_world, confidence)
        cfg, layer, dt = self.config, self.layer, self.layer.dtype
        target = torch.as_tensor(kp, dtype=dt)[None]
        weight = torch.as_tensor(w / w.sum(), dtype=dt)[None, :, None]
        if init is not None:
            betas0 = np.asarray(init.betas, dtype=float)
            pose0 = torch.as_tensor(np.asarray(init.pose, dtype=float), dtype=dt)[None]
            orient0 = pose0[:, :3]
            coeffs0 = layer.pca_from_pose(pose0, cfg.num_pca)
            trans0 = torch.as_tensor(np.asarray(init.translation, dtype=float), dtype=dt)[None]
            iterations = cfg.warm_iterations
        else:
            betas0 = np.zeros(self.num_betas)
            coeffs0 = torch.zeros(1, cfg.num_pca, dtype=dt)
            with torch.no_grad():
                src = layer.keypoints(pose=layer.pose_from_pca(torch.zeros(1, 3, dtype=dt), coeffs0))[0].numpy()
            palm = np.array(PALM_KEYPOINTS)
            rot, c = _kabsch(src[palm], kp[palm], w[palm] + 1e-9)
            j0 = src[0]  # keypoint 0 is MANO's wrist joint, the root
            from scipy.spatial.transform import Rotation

            orient0 = torch.as_tensor(Rotation.from_matrix(rot).as_rotvec(), dtype=dt)[None]
            # the layer rotates about the wrist joint j0: R (x - j0) + j0 + t = R x + c
            trans0 = torch.as_tensor(c + rot @ j0 - j0, dtype=dt)[None]
            iterations = cfg.iterations
        betas = torch.as_tensor(betas0, dtype=dt)[None].clone().requires_grad_(True)
        orient = orient0.clone().detach().requires_grad_(True)
        coeffs = coeffs0.clone().detach().requires_grad_(True)
        trans = trans0.clone().detach().requires_grad_(True)

        def loss_fn() -> torch.Tensor:
            keypoints = layer.keypoints(betas, layer.pose_from_pca(orient, coeffs), trans)
            err = ((keypoints - target) * 100.0) ** 2  # cm^2, well scaled for L-BFGS
            return (err * weight).sum() + cfg.shape_prior * (betas**2).sum() + cfg.pose_prior * (coeffs**2).sum()

        def run(params: list[torch.Tensor], iters: int) -> None:
            opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, line_search_fn="strong_wolfe",
                                    tolerance_grad=1e-9, tolerance_change=1e-12)

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = loss_fn()
                loss.backward()
                return loss

            opt.step(closure)

        with _threads(1):  # tiny tensors: one thread is several times faster than contending ones
            if init is None:
                run([orient, trans], 15)
            run([betas, orient, coeffs, trans], iterations)
            with torch.no_grad():
                pose = layer.pose_from_pca(orient, coeffs)
                fitted = layer.keypoints(betas, pose, trans)[0].numpy()
        dist = np.linalg.norm(fitted - kp, axis=1)
        error_mm = float((dist * w).sum() / w.sum() * 1000.0)
        return ManoFit(betas.detach()[0].numpy().copy(), pose[0].numpy().copy(), trans.detach()[0].numpy().copy(),
                       error_mm, fitted.copy())
