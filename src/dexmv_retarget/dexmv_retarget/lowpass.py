"""Causal Butterworth low-pass filter on the joint output, one sample at a time.

Causal so the live node can run it; the batch API runs the very same recursion, so both give the
same joints. It starts in steady state at the first sample (no ramp from zero). Its overshoot can
leave a joint range by a few percent of a step, so the retargeter clips after it.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter_zi


class LowPassFilter:
    """Butterworth of `order` with cutoff `cutoff_hz` at sample rate `rate_hz`, over `channels` values."""

    def __init__(self, cutoff_hz: float, rate_hz: float, channels: int, order: int = 2) -> None:
        if rate_hz <= 0:
            raise ValueError(f"frame rate must be positive, got {rate_hz} Hz")
        if not 0 < cutoff_hz < rate_hz / 2:
            raise ValueError(f"filter cutoff must be in (0, {rate_hz / 2:g}) Hz (half the {rate_hz:g} Hz frame rate), "
                             f"got {cutoff_hz} Hz")
        if order < 1:
            raise ValueError(f"filter order must be at least 1, got {order}")
        self.cutoff_hz, self.rate_hz, self.order = cutoff_hz, rate_hz, order
        b, a = butter(order, cutoff_hz, btype="low", fs=rate_hz)
        self._b, self._a = b / a[0], a / a[0]
        self._zi_unit = lfilter_zi(self._b, self._a)  # (order,) steady state for a unit input
        self._state: np.ndarray | None = None  # (order, channels), direct form II transposed
        self.channels = channels

    def reset(self) -> None:
        self._state = None

    def step(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self._state is None:
            self._state = self._zi_unit[:, None] * x[None, :]
        z, b, a = self._state, self._b, self._a
        y = b[0] * x + z[0]
        for i in range(self.order - 1):
            z[i] = b[i + 1] * x + z[i + 1] - a[i + 1] * y
        z[self.order - 1] = b[self.order] * x - a[self.order] * y
        return y
