"""A recorded rig on disk: one RealSense recording per camera plus the extrinsics that place them.

The folder layout is what `dexmv synth` writes and what a real capture session should keep:
`<camera>.db3` (or `.bag`) per camera and `extrinsics.yaml` (`dexmv calibrate`'s format) naming
those cameras. Frames of the cameras are paired by their timestamps with dexmv_capture's
FramePairer, the rule the live node uses, and come out as `CameraFrame` moments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexmv_perception.hand.tracker import CameraFrame


class RigRecordingError(ValueError):
    """A recording folder that cannot be used; the message names the file."""


@dataclass(frozen=True)
class RigRecording:
    directory: Path
    recordings: dict[str, Path]  # camera name -> recording file
    T_world_camera: dict[str, np.ndarray]  # camera name -> world <- colour optical frame

    @property
    def cameras(self) -> list[str]:
        return list(self.recordings)


def open_rig_recording(directory: str | Path, extrinsics: str | Path | None = None) -> RigRecording:
    """The cameras of a recording folder that both have a recording and an entry in the extrinsics."""
    from dexmv_capture.extrinsics import ExtrinsicsError, load_extrinsics
    from dexmv_capture.recording import RECORDING_SUFFIXES
    from dexmv_capture.rig import optical_pose

    directory = Path(directory)
    if not directory.is_dir():
        raise RigRecordingError(f"{directory}: no such recording folder")
    ext_path = Path(extrinsics) if extrinsics else directory / "extrinsics.yaml"
    try:
        rig = load_extrinsics(ext_path)
    except ExtrinsicsError as err:
        raise RigRecordingError(str(err)) from None
    recordings, poses = {}, {}
    for cam in rig:
        for suffix in RECORDING_SUFFIXES:
            path = directory / f"{cam.camera_name}{suffix}"
            if path.is_file():
                recordings[cam.camera_name] = path
                poses[cam.camera_name] = optical_pose(cam)
                break
    if not recordings:
        raise RigRecordingError(f"{directory}: no recording named after a camera of {ext_path} "
                                f"({', '.join(c.camera_name + '.db3' for c in rig)})")
    return RigRecording(directory, recordings, poses)


def _frame(name: str, frame, reader, pose: np.ndarray) -> CameraFrame:
    intr = reader.info.stream("color").intrinsics
    depth = frame.depth.astype(np.float32) * np.float32(reader.info.depth_units)
    return CameraFrame(name, frame.color, depth, intr.matrix(), pose)


def iterate_moments(rig: RigRecording, max_frames: int | None = None,
                    read_ahead: int = 0) -> Iterator[tuple[float, list[CameraFrame]]]:
    """(stamp in s, frames of the cameras) per moment, in time order; all cameras paired when there are two.

    read_ahead: decode up to this many moments ahead in a worker thread while the caller works on
    the current one (0: decode on demand). The moments and their order are the same either way.
    """
    moments = _moments(rig, max_frames)
    return moments if read_ahead <= 0 else read_ahead_of(moments, read_ahead)


READ_AHEAD = 4  # moments the offline commands (perceive, bench, demos) decode ahead of perception
_END = object()  # read_ahead_of's end-of-items marker


@dataclass(frozen=True)
class _Raised:
    error: BaseException  # what the worker's iterator raised, raised again in the caller


def read_ahead_of(items: Iterator, depth: int) -> Iterator:
    """`items` consumed in a worker thread, up to `depth` ahead of the caller.

    Why: decoding a moment of two RealSense recordings costs librealsense ~13 ms of CPU, mostly
    while the caller waits for it (the default recording: 7.7 -> 4.3 ms a moment, 1-1.3 moments/s
    more over the whole perception loop, four runs alternately). An error in `items` is raised in
    the caller at the point it was reached; stopping early (a break, Ctrl-C, an error in the
    caller) stops the worker and closes `items` (the recordings' readers, each within its own close
    timeout) before returning: left to close at interpreter exit, librealsense's playback crashed.
    """
    import queue
    import threading

    box: queue.Queue = queue.Queue(max(1, depth))
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        failed = False
        try:
            for item in items:
                if not offer(item):
                    break
        except BaseException as err:  # handed to the caller, who decides
            failed = True
            offer(_Raised(err))
        try:
            close = getattr(items, "close", None)
            if callable(close):
                close()
        except BaseException as err:  # a reader that fails to close: said, never a caller left waiting
            if not failed:
                offer(_Raised(err))
        offer(_END)

    worker = threading.Thread(target=pump, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()


def _moments(rig: RigRecording, max_frames: int | None) -> Iterator[tuple[float, list[CameraFrame]]]:
    from dexmv_capture.frame_pairing import FramePairer
    from dexmv_capture.recording import RecordingError, RecordingReader

    readers = {}
    try:
        for name, path in rig.recordings.items():
            try:
                readers[name] = RecordingReader(path)
            except RecordingError as err:
                raise RigRecordingError(str(err)) from None
        names = list(readers)
        count = 0
        if len(names) == 1:
            reader = readers[names[0]]
            for frame in reader:
                yield frame.timestamp_ms / 1000.0, [_frame(names[0], frame, reader, rig.T_world_camera[names[0]])]
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
            return
        if len(names) > 2:
            raise RigRecordingError(f"{rig.directory}: {len(names)} cameras; pairing handles two")
        fps = max(readers[n].info.stream("color").fps for n in names)
        pairer = FramePairer((names[0], names[1]), fps=float(fps))
        heads = {n: readers[n].read() for n in names}
        while True:
            live = [n for n in names if heads[n] is not None]
            if live:
                n = min(live, key=lambda k: heads[k].timestamp_ms)
                pairs = pairer.push(n, heads[n].timestamp_ms / 1000.0, heads[n])
                heads[n] = readers[n].read()
            else:
                pairs = pairer.flush()
            for pair in pairs:
                frames = [_frame(n, f, readers[n], rig.T_world_camera[n]) for n, f in zip(names, pair.frames,
                                                                                           strict=True)]
                yield pair.stamp, frames
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
            if not live:
                return
    finally:
        for reader in readers.values():
            reader.close()
