"""Hand poses that wait, in arrival order, for their frame's transform to arrive.

tf2's MessageFilter, in small: when a camera node starts, its /tf_static (link -> optical frame)
reaches the retarget node only once DDS discovery has matched the two, which can take a few seconds
under load, while hand poses in that optical frame may already be flowing. Holding those frames
would make the first second of every recording a HELD hand; waiting up to `timeout_s` for the
transform keeps them. Frames stay in order (the retargeter warm-starts from the previous frame and
filters over time), so a frame that can be placed still waits behind an older one that cannot.
A frame is released when it can be placed, when it has waited `timeout_s`, or when more than
`max_frames` are waiting, together with what placed it (its transform), so the caller need not
look it up again; a frame released without one holds the last good solution, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class TransformWait(Generic[T]):
    def __init__(self, timeout_s: float, max_frames: int = 300) -> None:
        if not timeout_s >= 0.0:
            raise ValueError(f"transform wait must be >= 0 s, got {timeout_s}")
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.timeout_s = timeout_s
        self.max_frames = max_frames
        self._waiting: deque[tuple[float, T]] = deque()
        self.expired = 0  # frames released without a transform (timeout or overflow)

    def __len__(self) -> int:
        return len(self._waiting)

    def push(self, item: T, now: float) -> None:
        self._waiting.append((now, item))

    def release(self, place: Callable[[T], R | None], now: float) -> list[tuple[T, R | None]]:
        """Frames to process now, oldest first, each with place(frame) (None: it cannot be placed): the
        head while it can be placed, has waited long enough, or the queue is over `max_frames`."""
        out: list[tuple[T, R | None]] = []
        while self._waiting:
            arrived, item = self._waiting[0]
            placed = place(item)
            if placed is None:
                if now - arrived < self.timeout_s and len(self._waiting) <= self.max_frames:
                    break
                self.expired += 1
            self._waiting.popleft()
            out.append((item, placed))
        return out
