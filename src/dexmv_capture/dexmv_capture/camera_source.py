"""A D435 frame source for the camera node: a live device by serial number, or a recording file.

Recordings play in real time (paced by their frame timestamps; frames that come too late are
skipped and counted as dropped, as a live camera drops them) or as fast as the caller reads.
Live devices count drops from gaps in the frame numbers and, when the device disconnects, report
it so the caller can wait for it to come back (`LiveCamera.reconnect`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.recording import Frame, RecordingReader, _rs, intrinsics_from_rs


class DeviceDisconnected(RuntimeError):
    """The live camera stopped delivering frames (unplugged, USB reset)."""


@dataclass
class SourceStats:
    frames: int = 0
    dropped: int = 0


class RecordingSource:
    """Frames of a recording file, in real time or as fast as `read` is called."""

    def __init__(self, path: str, real_time: bool = True) -> None:
        self.reader = RecordingReader(path)
        self.info = self.reader.info
        self.intrinsics: Intrinsics = self.info.stream("color").intrinsics
        self.real_time = real_time
        self.stats = SourceStats()
        self._t0: float | None = None
        self._first_stamp = 0.0

    def read(self) -> Frame | None:
        while True:
            frame = self.reader.read()
            if frame is None:
                return None
            if not self.real_time:
                self.stats.frames += 1
                return frame
            now = time.monotonic()
            if self._t0 is None:
                self._t0, self._first_stamp = now, frame.timestamp_ms
            due = self._t0 + (frame.timestamp_ms - self._first_stamp) / 1000.0
            if now > due + 1.5 / max(self.info.stream("color").fps, 1):
                self.stats.dropped += 1  # we fell behind by more than a frame: skip it, like a camera would
                continue
            if due > now:
                time.sleep(due - now)
            self.stats.frames += 1
            return frame

    def close(self) -> None:
        self.reader.close()


class LiveCamera:
    """A D435 through librealsense's pipeline: colour RGB8 + depth Z16 aligned to colour."""

    def __init__(self, serial_no: str, width: int, height: int, fps: int, timeout_ms: int = 5000) -> None:
        self.serial_no, self.width, self.height, self.fps, self.timeout_ms = serial_no, width, height, fps, timeout_ms
        self.stats = SourceStats()
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
        except RuntimeError as err:
            who = f"serial_no {self.serial_no}" if self.serial_no else "any RealSense"
            raise DeviceDisconnected(f"cannot start {who} at {self.width}x{self.height}@{self.fps} ({err})") from None
        color = profile.get_stream(rs.stream.color).as_video_stream_profile()
        self.intrinsics = intrinsics_from_rs(color.get_intrinsics())
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
        number = int(color.get_frame_number())
        if self._last_number is not None and number > self._last_number + 1:
            self.stats.dropped += number - self._last_number - 1
        self._last_number = number
        self.stats.frames += 1
        return Frame(np.asanyarray(color.get_data()).copy(), np.asanyarray(depth.get_data()).copy(),
                     float(color.get_timestamp()), number)

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
