"""The One Euro filter (Casiez, Roussel and Vogel, CHI 2012) on arrays of points.

A first-order low-pass whose cutoff rises with speed: fc = min_cutoff + beta * |dx/dt|. At rest the
low cutoff removes jitter; when the hand moves the cutoff opens and the lag stays small. For a
signal moving at constant speed v the steady-state lag is v / (2 pi fc) < 1 / (2 pi beta) in the
signal's units, whatever the speed: that is the bound the tests check.

Written from the paper's formulas: alpha(fc) = 1 / (1 + tau / Te), tau = 1 / (2 pi fc); the
derivative is filtered with its own fixed cutoff d_cutoff before it sets fc. Samples with varying
time steps are handled (Te from the stamps). Per element, samples marked invalid leave the state
untouched, and an element unseen for longer than `reset_after_s` starts afresh.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=float))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over arrays of shape `shape` whose last axis is one point's coordinates.

    The speed that opens the cutoff is the norm over the last axis (a 3D point moves as one),
    so min_cutoff is in Hz and beta in Hz per (unit / s), e.g. per (m / s) for metres.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 20.0, d_cutoff: float = 1.0,
                 reset_after_s: float = 0.5) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One Euro: min_cutoff and d_cutoff must be positive and beta >= 0, got "
                             f"{min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff, self.reset_after_s = min_cutoff, beta, d_cutoff, reset_after_s
        self._x: np.ndarray | None = None  # filtered value
        self._dx: np.ndarray | None = None  # filtered derivative
        self._t: np.ndarray | None = None  # last time each point was updated

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float, valid: np.ndarray | None = None) -> np.ndarray:
        """Filter sample `x` taken at time `t` (s); `valid` (shape[:-1]) marks the points observed.

        Returns the filtered array; points never observed are NaN.
        """
        x = np.asarray(x, dtype=float)
        ok = np.isfinite(x).all(axis=-1)
        if valid is not None:
            ok &= np.asarray(valid, dtype=bool)
        if self._x is None:
            self._x = np.full(x.shape, np.nan)
            self._dx = np.zeros(x.shape)
            self._t = np.full(x.shape[:-1], -np.inf)
        dt = t - self._t
        fresh = ok & ~(dt <= self.reset_after_s)  # first sample, or unseen for too long: start again
        self._x[fresh], self._dx[fresh], self._t[fresh] = x[fresh], 0.0, t
        step = ok & ~fresh & (dt > 0)
        if step.any():
            dts = dt[step][:, None]
            prev = self._x[step]
            dx = (x[step] - prev) / dts
            a_d = _alpha(self.d_cutoff, dts)
            dx_hat = a_d * dx + (1.0 - a_d) * self._dx[step]
            cutoff = self.min_cutoff + self.beta * np.linalg.norm(dx_hat, axis=-1, keepdims=True)
            a = _alpha(cutoff, dts)
            self._x[step] = a * x[step] + (1.0 - a) * prev
            self._dx[step] = dx_hat
            self._t[step] = t
        return self._x.copy()
