"""RealSense recording files: write them through librealsense's software device and recorder, read them back.

Writing goes through `rs.software_device` + `rs.recorder`, so a synthetic recording is the same
kind of file a real D435 writes (`.db3` with librealsense 2.59; its recorder rejects other
extensions) and any librealsense tool plays it. Reading uses librealsense's playback device
(`context().load_device(path)`, `set_real_time(False)`, consumer-paced: RecordingReader), which also
reads legacy ROS 1 `.bag` recordings; depth is aligned to colour with `rs.align`.

Errors name the file: a missing, corrupt or truncated recording raises RecordingError at once
when librealsense cannot open it. A file that opens but is damaged further in (librealsense's
playback then just stops early) is caught at its end: the reader compares the frames it received
per stream with the frames the file's index holds (the rosbag2 sqlite `messages` table of a
`.db3`) and raises RecordingIncomplete naming both counts; a recording without a single frame pair
is an error too.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexmv_capture.d435 import DEPTH_UNITS, Intrinsics
from dexmv_capture.realsense_library import import_pyrealsense2

RECORDING_SUFFIXES = (".db3", ".bag")
_CLOSE_TIMEOUT_S = 5.0  # how long close() lets playback run to its end
_END_TIMEOUT_MS = 300  # a playback that yields nothing for this long (not real time) has ended


class RecordingError(RuntimeError):
    """A recording that cannot be written or read; the message names the file."""


class RecordingIncomplete(RecordingError):
    """The recording ended before every recorded frame was read (corrupt or truncated), or held none."""


def recorded_frame_counts(path: str | Path) -> dict[str, int]:
    """Frames per stream ('color', 'depth') that a librealsense `.db3` holds, from its sqlite index.

    librealsense writes each stream's images on `/device_<d>/sensor_<s>/<Stream>_<i>/image/data[...]`.
    Raises RecordingError when the index cannot be read (a garbled file) and for other formats."""
    path = Path(path)
    if path.suffix != ".db3":
        raise RecordingError(f"{path}: frame counts are read from .db3 files only")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT t.name, COUNT(m.id) FROM topics t LEFT JOIN messages m ON m.topic_id = t.id "
                              "WHERE t.name LIKE '%/image/data%' GROUP BY t.id").fetchall()
    except sqlite3.Error as err:
        raise RecordingError(f"{path}: its index cannot be read ({err}): the file is corrupt") from None
    counts = {"color": 0, "depth": 0}
    for name, count in rows:
        stream = name.split("/image/data")[0].rsplit("/", 1)[-1].split("_")[0].lower()
        if stream in counts:
            counts[stream] += int(count)
    return counts


def _rs():
    try:
        rs = import_pyrealsense2()  # after ROS 2's Fast DDS: see realsense_library
    except ImportError as err:  # e.g. libusb-1.0 missing
        raise RecordingError(f"pyrealsense2 cannot be imported ({err}); run `make setup`") from None
    return rs


def intrinsics_from_rs(intr) -> Intrinsics:
    return Intrinsics(int(intr.width), int(intr.height), float(intr.fx), float(intr.fy), float(intr.ppx),
                      float(intr.ppy), str(intr.model).split(".")[-1], tuple(float(c) for c in intr.coeffs))


def _rs_intrinsics(rs, intr: Intrinsics):
    out = rs.intrinsics()
    out.width, out.height = intr.width, intr.height
    out.fx, out.fy, out.ppx, out.ppy = intr.fx, intr.fy, intr.ppx, intr.ppy
    out.model = getattr(rs.distortion, intr.model)
    out.coeffs = list(intr.coeffs)
    return out


class RecordingWriter:
    """A two-stream (RGB8 colour, Z16 depth aligned to colour) RealSense recording being written.

    `write()` frames in order; with `pace=True` the recorder sees them 1/fps apart in wall time,
    so players that replay the recorder's clock (realsense-viewer) play at the right speed.
    """

    def __init__(self, path: str | Path, intrinsics: Intrinsics, fps: float, *, serial_no: str = "000000000000",
                 name: str = "Intel RealSense D435 (synthetic)", pace: bool = True,
                 depth_to_color: tuple[list[float], list[float]] | None = None) -> None:
        self.path = Path(path)
        if self.path.suffix != ".db3":
            raise RecordingError(f"{self.path}: librealsense 2.59 records only .db3 files")
        if not self.path.parent.is_dir():
            raise RecordingError(f"{self.path}: folder {self.path.parent} does not exist")
        rs = _rs()
        self._rs, self.intrinsics, self.fps, self.pace = rs, intrinsics, float(fps), pace
        self._device = rs.software_device()
        self._device.register_info(rs.camera_info.name, name)
        self._device.register_info(rs.camera_info.serial_number, serial_no)
        self._device.register_info(rs.camera_info.product_line, "D400")
        intr = _rs_intrinsics(rs, intrinsics)
        w, h, rate = intrinsics.width, intrinsics.height, round(fps)
        self._depth_sensor = self._device.add_sensor("Stereo Module")
        depth = rs.video_stream()
        depth.type, depth.index, depth.uid = rs.stream.depth, 0, 0
        depth.width, depth.height, depth.fps, depth.bpp, depth.fmt = w, h, rate, 2, rs.format.z16
        depth.intrinsics = intr
        self._depth_profile = self._depth_sensor.add_video_stream(depth)
        self._depth_sensor.add_read_only_option(rs.option.depth_units, DEPTH_UNITS)
        self._color_sensor = self._device.add_sensor("RGB Camera")
        color = rs.video_stream()
        color.type, color.index, color.uid = rs.stream.color, 0, 1
        color.width, color.height, color.fps, color.bpp, color.fmt = w, h, rate, 3, rs.format.rgb8
        color.intrinsics = intr
        self._color_profile = self._color_sensor.add_video_stream(color)
        # Identity: depth is registered to colour already (our renders). A real D435's depth
        # sensor sits ~15 mm from its colour sensor: `depth_to_color` (row-major rotation, metres)
        # writes such an unregistered recording, which readers align.
        rotation, translation = depth_to_color or ([1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], [0.0, 0.0, 0.0])
        extrinsics = rs.extrinsics()
        extrinsics.rotation, extrinsics.translation = [float(v) for v in rotation], [float(v) for v in translation]
        self._depth_profile.register_extrinsics_to(self._color_profile, extrinsics)
        self._recorder = rs.recorder(str(self.path), self._device)
        self._sink = rs.frame_queue(4)
        self._depth_sensor.open(self._depth_profile)
        self._color_sensor.open(self._color_profile)
        self._depth_sensor.start(self._sink)
        self._color_sensor.start(self._sink)
        self._frames = 0
        self._t0: float | None = None
        self._keep: list = []  # pixel buffers must outlive the recorder's use of them

    def write(self, color_rgb: np.ndarray, depth_mm: np.ndarray, timestamp_ms: float | None = None) -> None:
        """Add one frame pair: colour (H, W, 3) uint8 RGB and depth (H, W) uint16 in depth units."""
        rs, intr = self._rs, self.intrinsics
        if color_rgb.shape != (intr.height, intr.width, 3) or color_rgb.dtype != np.uint8:
            raise RecordingError(f"{self.path}: colour frames must be ({intr.height}, {intr.width}, 3) uint8, "
                                 f"got {color_rgb.shape} {color_rgb.dtype}")
        if depth_mm.shape != (intr.height, intr.width) or depth_mm.dtype != np.uint16:
            raise RecordingError(f"{self.path}: depth frames must be ({intr.height}, {intr.width}) uint16, "
                                 f"got {depth_mm.shape} {depth_mm.dtype}")
        stamp = self._frames * 1000.0 / self.fps if timestamp_ms is None else float(timestamp_ms)
        if self.pace:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            delay = self._t0 + self._frames / self.fps - now
            if delay > 0:
                time.sleep(delay)
        for sensor, profile, pixels, bpp in ((self._depth_sensor, self._depth_profile, depth_mm, 2),
                                             (self._color_sensor, self._color_profile, color_rgb, 3)):
            pixels = np.ascontiguousarray(pixels)
            frame = rs.software_video_frame()
            frame.pixels, frame.bpp, frame.stride = pixels, bpp, intr.width * bpp
            frame.timestamp, frame.domain = stamp, rs.timestamp_domain.hardware_clock
            frame.frame_number, frame.profile = self._frames, profile.as_video_stream_profile()
            sensor.on_video_frame(frame)
            self._keep.append(pixels)
        self._keep = self._keep[-8:]
        self._frames += 1
        while self._sink.poll_for_frame():  # keep the sink drained; we do not need the frames back
            pass

    def close(self) -> None:
        """Stop the sensors and finish the file."""
        if self._recorder is None:
            return
        for sensor in (self._depth_sensor, self._color_sensor):
            sensor.stop()
            sensor.close()
        self._recorder = None  # the file is completed when the recorder is released
        self._device = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass(frozen=True)
class Frame:
    """One colour frame with the depth aligned to it."""

    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray  # (H, W) uint16, depth units (see RecordingInfo.depth_units)
    timestamp_ms: float  # device timestamp of the colour frame
    frame_number: int
    timestamp_domain: str = "hardware_clock"  # librealsense's: hardware_clock, system_time or global_time


@dataclass(frozen=True)
class StreamInfo:
    stream: str
    format: str
    width: int
    height: int
    fps: int
    intrinsics: Intrinsics


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    device_name: str
    serial_no: str
    duration_s: float
    streams: tuple[StreamInfo, ...]
    depth_units: float

    def stream(self, name: str) -> StreamInfo:
        for s in self.streams:
            if s.stream == name:
                return s
        raise RecordingError(f"{self.path}: has no {name} stream (streams: {[s.stream for s in self.streams]})")


def check_recording_path(path: str | Path) -> Path:
    """The path as a Path, or RecordingError if it is missing, empty or not a recording file."""
    path = Path(path)
    if path.suffix not in RECORDING_SUFFIXES:
        raise RecordingError(f"{path}: not a RealSense recording (expected {' or '.join(RECORDING_SUFFIXES)})")
    if not path.is_file():
        raise RecordingError(f"{path}: no such recording file")
    if path.stat().st_size == 0:
        raise RecordingError(f"{path}: empty file")
    return path


class RecordingReader:
    """Frames of a recording, in order, as fast as they are read (colour + depth aligned to colour).

    The playback device's sensors deliver into callbacks that block while our small queue is
    full; librealsense's non-real-time playback waits for its callbacks, so however slowly the
    caller reads, no frame is lost. (A syncer does not hold playback back: with a reader taking
    50 ms per frame it dropped 34 of 60 frames silently; librealsense's pipeline dropped first
    frames at random.) Colour and depth are paired by timestamp, within half a frame period; a
    frame without a partner is skipped and counted in `unpaired`. Unless depth is already
    registered to colour (identity extrinsics, same intrinsics: our synthetic recordings) the pair
    is joined into a frameset and aligned to colour by librealsense's align block.
    """

    _QUEUE = 4  # frames in flight between playback and reader: small, librealsense's frame pool is finite
    _PENDING = 4  # frames of one stream waiting for a partner before the oldest is given up

    def __init__(self, path: str | Path, *, strict: bool = True) -> None:
        """strict: at the end, raise RecordingIncomplete if frames were lost or none was read;
        otherwise the same message is left in `problem` and read() just ends."""
        self.path = check_recording_path(path)
        self.strict = strict
        self.frames_read = 0  # colour/depth pairs returned
        self.received = {"color": 0, "depth": 0}  # frames per stream that playback delivered
        self.problem: str | None = None
        self._index_error: str | None = None
        self.recorded: dict[str, int] | None = None  # frames per stream in the file's index (.db3)
        if self.path.suffix == ".db3":
            try:
                self.recorded = recorded_frame_counts(self.path)
            except RecordingError as err:
                self._index_error = str(err)
        rs = self._rs = _rs()
        self._stopped = True
        self._closing = threading.Event()
        self._started = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=self._QUEUE)
        self._pending: dict[str, deque] = {"color": deque(), "depth": deque()}
        self.unpaired = 0
        try:
            device = rs.context().load_device(str(self.path))
        except RuntimeError as err:
            raise RecordingError(f"{self.path}: cannot be played ({err})") from None
        self._playback = device.as_playback()
        self._playback.set_real_time(False)
        self._sensors = []
        streams, profiles, units = [], {}, DEPTH_UNITS
        for sensor in device.query_sensors():
            video = [p for p in sensor.get_stream_profiles() if p.is_video_stream_profile()
                     and p.stream_type() in (rs.stream.color, rs.stream.depth)]
            if not video:
                continue
            sensor.open(video)
            self._sensors.append(sensor)
            if sensor.is_depth_sensor():
                units = float(sensor.as_depth_sensor().get_depth_scale())
            for sp in video:
                vsp = sp.as_video_stream_profile()
                name = str(sp.stream_type()).split(".")[-1]
                profiles[name] = vsp
                streams.append(StreamInfo(name, str(sp.format()).split(".")[-1], vsp.width(), vsp.height(), sp.fps(),
                                          intrinsics_from_rs(vsp.get_intrinsics())))
        self.info = RecordingInfo(self.path, _camera_info(device, rs.camera_info.name),
                                  _camera_info(device, rs.camera_info.serial_number),
                                  self._playback.get_duration().total_seconds(), tuple(streams), units)
        if not {"color", "depth"} <= set(profiles):
            for sensor in self._sensors:
                sensor.close()
            raise RecordingError(f"{self.path}: needs color and depth streams, has {sorted(profiles)}")
        ext = profiles["depth"].get_extrinsics_to(profiles["color"])
        # depth optical -> colour optical (row-major rotation, metres): where camera_node puts <name>_color_frame
        self.depth_to_color = (tuple(float(v) for v in ext.rotation), tuple(float(v) for v in ext.translation))
        self._registered = (np.allclose(ext.rotation, np.eye(3).ravel()) and np.allclose(ext.translation, 0.0)
                            and profiles["depth"].get_intrinsics().fx == profiles["color"].get_intrinsics().fx
                            and profiles["depth"].width() == profiles["color"].width())
        self._tolerance_ms = 500.0 / max(profiles["color"].fps(), 1)
        self._align = rs.align(rs.stream.color)
        # unregistered depth: a processing block joins a colour and a depth frame into the frameset
        # that align takes (made on first use, released in close(): left to the garbage collector
        # at interpreter exit it crashed the process)
        self._pair: tuple = ()
        self._joiner = self._joined = None
        # Playback runs from the first sensor's start; its callback holds playback until every
        # sensor has started, so no stream's first frames go to a sensor not started yet (they
        # were lost before, the more the busier the machine). playback.pause() here took 10 s at times.
        for sensor in self._sensors:
            sensor.start(self._deliver)
        self._started.set()
        self._stopped = False

    def _deliver(self, frame) -> None:
        """Sensor callback: hand the frame over, blocking (so holding playback back) while the queue is full."""
        if self._closing.is_set():
            return
        frame.keep()
        while not self._started.wait(0.1):
            if self._closing.is_set():
                return
        while not self._closing.is_set():
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    @property
    def expected_frames(self) -> int | None:
        """Frame pairs the file's index promises (the smaller stream), or None where unknown (.bag)."""
        return None if self.recorded is None else min(self.recorded.values())

    def _finish(self) -> None:
        """End of playback: what could not be read becomes `problem` (and, strict, an error)."""
        got, rec = self.received, self.recorded
        problem = None
        if self._index_error:
            problem = f"{self._index_error}; read {self.frames_read} frame pairs before playback stopped"
        elif rec is not None and (got["color"] < rec["color"] or got["depth"] < rec["depth"]):
            problem = (f"{self.path}: corrupt or truncated: read {got['color']} of {rec['color']} colour and "
                       f"{got['depth']} of {rec['depth']} depth frames ({self.frames_read} pairs) before playback "
                       "stopped")
        elif self.frames_read == 0:
            held = "" if rec is None else f" (the file holds {rec['color']} colour and {rec['depth']} depth frames)"
            problem = f"{self.path}: no frames could be read{held}"
        self.problem = problem
        if problem and self.strict:
            raise RecordingIncomplete(problem)

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the recording (strict: RecordingIncomplete if frames were lost)."""
        while True:
            try:
                frame = self._queue.get(timeout=_END_TIMEOUT_MS / 1000.0)
            except queue.Empty:
                if self._playback.current_status() == self._rs.playback_status.stopped:
                    if self.problem is None:
                        self._finish()
                    return None
                continue
            kind = "depth" if frame.is_depth_frame() else "color"
            self.received[kind] += 1
            pair = self._match(kind, frame)
            if pair is None:
                continue
            color, depth = pair
            if not self._registered:
                if self._joiner is None:
                    self._joined = self._rs.frame_queue(1)
                    self._joiner = self._rs.processing_block(
                        lambda _frame, source: source.frame_ready(source.allocate_composite_frame(list(self._pair))))
                    self._joiner.start(self._joined)
                self._pair = (color, depth)
                self._joiner.invoke(color)
                aligned = self._align.process(self._joined.wait_for_frame().as_frameset())
                color, depth = aligned.get_color_frame(), aligned.get_depth_frame()
            self.frames_read += 1
            return self._frame(color, depth)

    def _match(self, kind: str, frame):
        """(colour, depth) once the oldest waiting frames of both streams are within half a frame period."""
        pending = self._pending
        pending[kind].append(frame)
        if len(pending[kind]) > self._PENDING:
            pending[kind].popleft()
            self.unpaired += 1
        while pending["color"] and pending["depth"]:
            dt = pending["color"][0].get_timestamp() - pending["depth"][0].get_timestamp()
            if abs(dt) <= self._tolerance_ms:
                return pending["color"].popleft(), pending["depth"].popleft()
            pending["color" if dt < 0 else "depth"].popleft()  # the older one has no partner
            self.unpaired += 1
        return None

    @staticmethod
    def _frame(color, depth) -> Frame:
        return Frame(np.asanyarray(color.get_data()).copy(), np.asanyarray(depth.get_data()).copy(),
                     float(color.get_timestamp()), int(color.get_frame_number()),
                     str(color.get_frame_timestamp_domain()).split(".")[-1])

    def close(self) -> None:
        """Stop playback and give every frame still held back to librealsense.

        Done here, while the interpreter is alive, rather than by the garbage collector at exit.
        """
        if not self._stopped:
            self._stopped = True
            self._closing.set()  # releases a callback blocked on the full queue; later frames are dropped
            # let playback reach its end before the sensors stop: stopping them mid-file left its
            # reading thread running into interpreter exit, which corrupted the heap (1 run in 5)
            with contextlib.suppress(RuntimeError):
                self._playback.seek(self._playback.get_duration())
            deadline = time.monotonic() + _CLOSE_TIMEOUT_S
            while (self._playback.current_status() != self._rs.playback_status.stopped
                   and time.monotonic() < deadline):
                time.sleep(0.01)
            for sensor in self._sensors:
                try:
                    sensor.stop()
                    sensor.close()
                except RuntimeError:
                    pass
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            for pending in self._pending.values():
                pending.clear()
            self._pair = ()
            self._joiner = self._joined = None

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _camera_info(device, key) -> str:
    return device.get_info(key) if device.supports(key) else ""


def recording_info(path: str | Path, count_frames: bool = True) -> tuple[RecordingInfo, int | None]:
    """Streams, intrinsics, duration and (reading it through) the number of frame pairs of a recording."""
    with RecordingReader(path) as reader:
        count = sum(1 for _ in reader) if count_frames else None
        return reader.info, count
