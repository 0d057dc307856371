"""One time base for every camera: how a frame's device timestamp becomes its ROS stamp.

Two cameras' frames are paired by stamp downstream (frame_pairing), so both camera nodes must map
time the same way; a per-node "now at start" base puts the same recorded instant seconds apart.

Recordings: stamp = start_time + (recorded timestamp - time_origin).
  - `start_time`: a ROS time every node is given (launch/demo); empty: the node's clock when its
    first frame is published (one camera only: two nodes would differ by their start-up times).
  - `time_origin_ms`: the recorded timestamp that plays at start_time; negative: the recording's
    first frame. Recordings of one rig share a clock (librealsense global time, or our synthetic
    ones that all start at 0), so one origin for both keeps their relative timing.
  - `use_recording_time`: stamps are the recorded timestamps themselves (start 0, origin 0).
Live devices: frames in librealsense's global (host-clock-synchronised) or system-time domain carry
Unix-epoch milliseconds and are stamped with them, as realsense-ros does; a hardware-clock frame
(global time off) is stamped with the host time at its arrival.
"""

from __future__ import annotations

import math
from datetime import datetime

NS_PER_MS = 1_000_000
EPOCH_DOMAINS = ("global_time", "system_time")  # librealsense domains whose timestamps are Unix-epoch ms


def ms_to_ns(ms: float) -> int:
    """Milliseconds (float) to integer nanoseconds without float rounding at epoch scale (1.7e12 ms * 1e6
    exceeds a double's 53 bits): whole milliseconds as integers, only the fraction in floating point."""
    whole = math.floor(ms)
    return whole * NS_PER_MS + round((ms - whole) * NS_PER_MS)


class TimeBaseError(ValueError):
    """A start time or origin that cannot be used; the message names the parameter."""


def parse_start_time(text: str) -> int | None:
    """`start_time` as ROS time in nanoseconds: '' (None), integer nanoseconds, or ISO 8601 with a zone."""
    text = text.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        value = int(text)
    else:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TimeBaseError(f"parameter start_time: {text!r} is neither integer nanoseconds nor an ISO 8601 "
                                "time (e.g. 2026-12-03T21:30:00Z)") from None
        if when.tzinfo is None:
            raise TimeBaseError(f"parameter start_time: {text!r} has no time zone (add Z for UTC)")
        # whole seconds exactly, then the microseconds: float seconds lose ~100 ns at today's epoch
        value = int(when.replace(microsecond=0).timestamp()) * 1_000_000_000 + when.microsecond * 1000
    if value < 0:
        raise TimeBaseError(f"parameter start_time: {text!r} is before 1970")
    return value


class RecordingTimeBase:
    """stamp_ns(timestamp_ms) for a recording: start + (timestamp - origin), fixed once, the same in every node."""

    def __init__(self, start_ns: int | None = None, origin_ms: float | None = None,
                 use_recording_time: bool = False) -> None:
        if use_recording_time and start_ns is not None:
            raise TimeBaseError("parameters use_recording_time and start_time exclude each other")
        if origin_ms is not None and not math.isfinite(origin_ms):
            raise TimeBaseError(f"parameter time_origin_ms: not finite ({origin_ms})")
        if use_recording_time:
            start_ns, origin_ms = 0, 0.0
        self.use_recording_time = use_recording_time
        self.start_ns, self.origin_ms = start_ns, origin_ms

    @property
    def fixed(self) -> bool:
        """True once start and origin are known (both given, or set by `anchor`)."""
        return self.start_ns is not None and self.origin_ms is not None

    def anchor(self, first_timestamp_ms: float, now_ns: int) -> None:
        """Fix what was left open at the first frame: the origin (its timestamp), the start (now)."""
        if self.origin_ms is None:
            self.origin_ms = float(first_timestamp_ms)
        if self.start_ns is None:
            self.start_ns = now_ns

    def stamp_ns(self, timestamp_ms: float) -> int:
        if not self.fixed:
            raise RuntimeError("RecordingTimeBase.anchor() must be called with the first frame")
        return self.start_ns + ms_to_ns(timestamp_ms) - ms_to_ns(self.origin_ms)

    def describe(self) -> str:
        if not self.fixed:
            return "stamps from this node's clock at its first frame (one camera only)"
        return f"stamp = {self.start_ns} ns + (recorded ms - {self.origin_ms:.3f}) * 1e6"


def live_stamp_ns(timestamp_ms: float, domain: str, arrival_ns: int) -> int:
    """A live frame's stamp: its own timestamp when that is Unix-epoch time (global/system), else arrival."""
    if domain in EPOCH_DOMAINS:
        return ms_to_ns(timestamp_ms)
    return arrival_ns
