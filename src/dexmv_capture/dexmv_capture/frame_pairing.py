"""Pair the frames of two cameras by timestamp, streaming or offline.

Two D435s are not triggered together: their frames arrive with jitter, either may drop frames,
start later or deliver out of order (two ROS subscriptions, two USB links). Two-view consumers
(keypoint fusion) need one frame of each camera taken at about the same time. The rule, the same
for both modes: going through the frames oldest first, a frame is paired with the other camera's
frame nearest in time if that one is within `tolerance_s` (default half a frame period, so a
frame can only match its own exposure's counterpart) and no later frame of its own camera is
nearer to it; otherwise it is dropped and counted.

Streaming (`FramePairer.push`) decides about a frame once nothing that could still arrive can
change the decision: frames may arrive up to `lateness_s` out of order (default one frame period);
a frame that arrives later than that, after its slot was decided, is dropped and counted as late.
Each camera buffers at most `max_pending` undecided frames (the oldest are dropped when one camera
stops), so memory stays bounded. Offline, `pair_timestamps` runs the same rule over two timestamp
arrays and `pair_recordings` over two RealSense recordings.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FramePair:
    """One frame of each camera, in the order the cameras were given."""

    stamps: tuple[float, float]
    frames: tuple[Any, Any]

    @property
    def stamp(self) -> float:
        """The pair's time: the mean of the two stamps."""
        return 0.5 * (self.stamps[0] + self.stamps[1])


@dataclass
class PairingStats:
    """Counts per camera of frames that were not paired, by reason."""

    pairs: int = 0
    unpaired: dict[Hashable, int] = field(default_factory=dict)  # no counterpart within the tolerance
    late: dict[Hashable, int] = field(default_factory=dict)  # arrived after their slot was decided
    overflow: dict[Hashable, int] = field(default_factory=dict)  # pushed out of a full buffer

    def dropped(self, camera: Hashable) -> int:
        return self.unpaired[camera] + self.late[camera] + self.overflow[camera]


class FramePairer:
    """Streaming pairing of two cameras' frames: push frames of either camera in any order, get pairs."""

    def __init__(self, cameras: tuple[Hashable, Hashable] = ("camera1", "camera2"), *, fps: float = 30.0,
                 tolerance_s: float | None = None, lateness_s: float | None = None, max_pending: int = 64) -> None:
        if len(cameras) != 2 or cameras[0] == cameras[1]:
            raise ValueError(f"cameras: two distinct names, got {cameras!r}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.cameras = tuple(cameras)
        self.tolerance_s = 0.5 / fps if tolerance_s is None else float(tolerance_s)
        self.lateness_s = 1.0 / fps if lateness_s is None else float(lateness_s)
        if not self.tolerance_s > 0 or self.lateness_s < 0:
            raise ValueError(f"tolerance_s must be positive and lateness_s not negative, got {self.tolerance_s}, "
                             f"{self.lateness_s}")
        if max_pending < 2:
            raise ValueError(f"max_pending must be at least 2, got {max_pending}")
        self.max_pending = max_pending
        self.stats = PairingStats(unpaired=dict.fromkeys(cameras, 0), late=dict.fromkeys(cameras, 0),
                                  overflow=dict.fromkeys(cameras, 0))
        self._stamps: list[list[float]] = [[], []]  # undecided frames per camera, sorted by stamp
        self._frames: list[list[Any]] = [[], []]
        self._newest = [-math.inf, -math.inf]
        self._decided = [-math.inf, -math.inf]  # stamp of the newest decided frame per camera

    def pending(self) -> tuple[int, int]:
        """Undecided frames held per camera."""
        return len(self._stamps[0]), len(self._stamps[1])

    def push(self, camera: Hashable, stamp_s: float, frame: Any = None) -> list[FramePair]:
        """Add a frame of `camera` taken at `stamp_s` (seconds); returns the pairs this completes, oldest first."""
        if camera not in self.cameras:
            raise ValueError(f"unknown camera {camera!r}; cameras: {self.cameras}")
        if not math.isfinite(stamp_s):
            raise ValueError(f"stamp of a {camera} frame is not finite: {stamp_s}")
        k = self.cameras.index(camera)
        if stamp_s <= self._decided[k]:
            self.stats.late[camera] += 1
            return []
        at = bisect.bisect(self._stamps[k], stamp_s)
        self._stamps[k].insert(at, stamp_s)
        self._frames[k].insert(at, frame)
        self._newest[k] = max(self._newest[k], stamp_s)
        out = self._match(final=False)
        while len(self._stamps[k]) > self.max_pending:
            self._pop(k)
            self.stats.overflow[camera] += 1
            out += self._match(final=False)
        return out

    def flush(self) -> list[FramePair]:
        """End of both streams: decide every frame still held; returns the last pairs."""
        return self._match(final=True)

    def _pop(self, k: int) -> tuple[float, Any]:
        stamp, frame = self._stamps[k].pop(0), self._frames[k].pop(0)
        self._decided[k] = stamp
        return stamp, frame

    def _match(self, final: bool) -> list[FramePair]:
        out: list[FramePair] = []
        tol = self.tolerance_s
        while self._stamps[0] or self._stamps[1]:
            # the oldest undecided frame overall, h, of camera k; o is the other camera
            heads = [s[0] if s else math.inf for s in self._stamps]
            k = 0 if heads[0] <= heads[1] else 1
            o = 1 - k
            h = heads[k]
            if not final:
                horizon = [n - self.lateness_s for n in self._newest]
                if horizon[o] < h + tol or horizon[k] < h + 2 * tol:
                    break  # a frame that could change the decision may still come
            # every other-camera frame is at least as new as h, so its nearest candidate is the other's oldest
            other, own = self._stamps[o], self._stamps[k]
            if other and other[0] - h <= tol and not (len(own) > 1 and abs(own[1] - other[0]) < other[0] - h):
                stamp_h, frame_h = self._pop(k)
                stamp_c, frame_c = self._pop(o)
                pair = ((stamp_h, stamp_c), (frame_h, frame_c)) if k == 0 else ((stamp_c, stamp_h), (frame_c, frame_h))
                out.append(FramePair(*pair))
                self.stats.pairs += 1
            else:
                self._pop(k)
                self.stats.unpaired[self.cameras[k]] += 1
        return out


@dataclass(frozen=True)
class PairedIndices:
    """Offline pairing result: index pairs into the two inputs and the indices left unpaired."""

    pairs: np.ndarray  # (N, 2) int: (index in a, index in b), in time order
    unpaired_a: np.ndarray
    unpaired_b: np.ndarray


def pair_timestamps(stamps_a, stamps_b, *, fps: float = 30.0, tolerance_s: float | None = None) -> PairedIndices:
    """Pair two timestamp arrays (seconds, any order) by the streaming rule, all frames known."""
    arrays = [np.asarray(s, dtype=float).reshape(-1) for s in (stamps_a, stamps_b)]
    for name, arr in zip("ab", arrays, strict=True):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"stamps_{name} holds non-finite timestamps")
    pairer = FramePairer(("a", "b"), fps=fps, tolerance_s=tolerance_s, lateness_s=0.0, max_pending=2**62)
    found: list[FramePair] = []
    for cam, arr in zip(("a", "b"), arrays, strict=True):
        for i in np.argsort(arr, kind="stable"):
            found += pairer.push(cam, float(arr[i]), int(i))
    pairs = [p.frames for p in found + pairer.flush()]
    index = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return PairedIndices(index, *(np.setdiff1d(np.arange(len(arr)), index[:, k]) for k, arr in enumerate(arrays)))


def pair_recordings(path_a: str | Path, path_b: str | Path, *, tolerance_s: float | None = None) -> PairedIndices:
    """Pair the frames of two RealSense recordings by their device timestamps (frame indices in file order).

    The two recordings' clocks must be comparable: synthetic recordings share one clock; live
    cameras need librealsense's global time (host-clock timestamps), its default for D400s.
    """
    from dexmv_capture.recording import RecordingReader

    stamps, fps = [], []
    for path in (path_a, path_b):
        with RecordingReader(path) as reader:
            stamps.append(np.array([f.timestamp_ms / 1000.0 for f in reader]))
            fps.append(reader.info.stream("color").fps)
    return pair_timestamps(stamps[0], stamps[1], fps=float(max(fps)), tolerance_s=tolerance_s)
