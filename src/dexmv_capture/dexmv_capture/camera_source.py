"""A D435 frame source for the camera node: a live device by serial number, or a recording file.

Recordings play in real time or as fast as the caller reads. In real time each frame is handed
out when the clock reaches its stamp (time_base.RecordingTimeBase: one mapping for every camera
node, so two nodes playing a recording pair publish the same instant together); frames that come
too late are skipped and counted as dropped, as a live camera drops them. A node that begins
playback after `start_time` (slow start-up) plays that much behind, at the recorded rate, stamps
unchanged: no frame of the pair is lost and its latency shows the delay. With the recorded
timestamps as stamps (use_recording_time) playback is paced from its first frame.
Live devices count drops from gaps in the frame numbers and, when the device disconnects, report
it so the caller can wait for it to come back (`LiveCamera.reconnect`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.recording import Frame, RecordingReader, _rs, intrinsics_from_rs
from dexmv_capture.time_base import RecordingTimeBase, live_stamp_ns


class DeviceDisconnected(RuntimeError):
    """The live camera stopped delivering frames (unplugged, USB reset)."""


@dataclass
class SourceStats:
    """Frames handed out and dropped; latency = publication time - stamp, as the node reports it."""

    frames: int = 0
    dropped: int = 0
    latency_count: int = 0
    latency_sum_ns: int = 0
    latency_max_ns: int = 0

    def add_latency(self, ns: int) -> None:
        self.latency_count += 1
        self.latency_sum_ns += ns
        self.latency_max_ns = max(self.latency_max_ns, ns) if self.latency_count > 1 else ns

    def latency_text(self) -> str:
        if not self.latency_count:
            return "latency (publish - stamp) n/a"
        mean = self.latency_sum_ns / self.latency_count / 1e6
        return f"latency (publish - stamp) mean {mean:.1f} ms, max {self.latency_max_ns / 1e6:.1f} ms"


class RecordingSource:
    """Frames of a recording file with their stamps, in real time or as fast as `read` is called.

    clock_ns: the node's clock (ROS time, ns); sleep(seconds): how to wait (a stop event's wait,
    so a long wait for `start_time` ends at once on shutdown). Each frame's stamp is `stamp_ns`
    after read() returned it.
    """

    def __init__(self, path: str, real_time: bool = True, time_base: RecordingTimeBase | None = None, *,
                 clock_ns: Callable[[], int] = time.time_ns, sleep: Callable[[float], object] = time.sleep,
                 strict: bool = True, rate: float = 1.0) -> None:
        if not rate > 0:
            raise ValueError(f"rate: must be a positive playback speed, got {rate}")
        self.reader = RecordingReader(path, strict=strict)
        self.info = self.reader.info
        self.intrinsics: Intrinsics = self.info.stream("color").intrinsics
        self.depth_to_color = self.reader.depth_to_color
        self.real_time = real_time
        self.time_base = time_base or RecordingTimeBase()
        self.clock_ns, self.sleep = clock_ns, sleep
        self.stats = SourceStats()
        self.stamp_ns = 0
        self.late_start_s = 0.0  # how far the clock was past the first frame's stamp when playback began
        self._pace_offset_ns: int | None = None  # wall-aligned stamps: 0; recorded time: now - first stamp
        self.rate = rate  # playback speed (as `ros2 bag play --rate`): frames go out 1/rate apart, stamps unchanged
        self._first_ns = 0
        self._period_ns = round(1e9 / max(self.info.stream("color").fps, 1))

    def read(self) -> Frame | None:
        while True:
            frame = self.reader.read()
            if frame is None:
                return None
            now = self.clock_ns()
            base = self.time_base
            if not base.fixed:
                base.anchor(frame.timestamp_ms, now)
            stamp = base.stamp_ns(frame.timestamp_ms)
            if self._pace_offset_ns is None:
                # on time: 0, each frame goes out when the clock reaches its stamp; a late start (the node came
                # up after start_time, or recorded timestamps in the past) plays that much behind, frame by
                # frame at the recorded rate: nothing is lost and no burst overruns the subscribers' queues
                self._pace_offset_ns = max(0, now - stamp)
                self._first_ns = stamp
                if not base.use_recording_time:
                    self.late_start_s = self._pace_offset_ns / 1e9
            if self.real_time:
                due = self._first_ns + self._pace_offset_ns + round((stamp - self._first_ns) / self.rate)
                if now > due + 1.5 * self._period_ns / self.rate:
                    self.stats.dropped += 1  # we fell behind by more than a frame: skip it, like a camera would
                    continue
                if due > now:
                    self.sleep((due - now) / 1e9)
            self.stamp_ns = stamp
            self.stats.frames += 1
            return frame

    def close(self) -> None:
        self.reader.close()


class LiveCamera:
    """A D435 through librealsense's pipeline: colour RGB8 + depth Z16 aligned to colour."""

    def __init__(self, serial_no: str, width: int, height: int, fps: int, timeout_ms: int = 5000) -> None:
        self.serial_no, self.width, self.height, self.fps, self.timeout_ms = serial_no, width, height, fps, timeout_ms
        self.stats = SourceStats()
        self.stamp_ns = 0  # of the last frame read: its global timestamp (as realsense-ros), else arrival
        self._last_number: int | None = None
        self._start()

    def _start(self) -> None:
        rs = _rs()
        self._pipeline = rs.pipeline()
        config = rs.config()
        if self.serial_no:
            config.enable_device(self.serial_no)
        config.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
        config.enable_stream(rs.stream.depth, self.width, self.height, rs.format.z16, self.fps)
        try:
            profile = self._pipeline.start(config)
            for sensor in profile.get_device().query_sensors():
                if sensor.supports(rs.option.global_time_enabled):  # one host-synchronised clock for all cameras
                    sensor.set_option(rs.option.global_time_enabled, 1.0)
        except RuntimeError as err:
            who = f"serial_no {self.serial_no}" if self.serial_no else "any RealSense"
            raise DeviceDisconnected(f"cannot start {who} at {self.width}x{self.height}@{self.fps} ({err})") from None
        color = profile.get_stream(rs.stream.color).as_video_stream_profile()
        self.intrinsics = intrinsics_from_rs(color.get_intrinsics())
        ext = profile.get_stream(rs.stream.depth).get_extrinsics_to(color)
        self.depth_to_color = (tuple(float(v) for v in ext.rotation), tuple(float(v) for v in ext.translation))
        self.serial_no = profile.get_device().get_info(rs.camera_info.serial_number)
        self._align = rs.align(rs.stream.color)

    def read(self) -> Frame:
        try:
            frames = self._pipeline.wait_for_frames(self.timeout_ms)
        except RuntimeError as err:
            raise DeviceDisconnected(f"RealSense {self.serial_no} delivered no frames for {self.timeout_ms} ms "
                                     f"({err})") from None
        import numpy as np

        aligned = self._align.process(frames)
        color, depth = aligned.get_color_frame(), aligned.get_depth_frame()
        arrival_ns = time.time_ns()
        number = int(color.get_frame_number())
        if self._last_number is not None and number > self._last_number + 1:
            self.stats.dropped += number - self._last_number - 1
        self._last_number = number
        self.stats.frames += 1
        domain = str(color.get_frame_timestamp_domain()).split(".")[-1]
        frame = Frame(np.asanyarray(color.get_data()).copy(), np.asanyarray(depth.get_data()).copy(),
                      float(color.get_timestamp()), number, domain)
        self.stamp_ns = live_stamp_ns(frame.timestamp_ms, domain, arrival_ns)
        return frame

    def reconnect(self) -> bool:
        """Try once to start the device again (after DeviceDisconnected); True when it streams again."""
        self.close()
        try:
            self._start()
        except DeviceDisconnected:
            return False
        self._last_number = None
        return True

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._pipeline.stop()
