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


def iterate_moments(rig: RigRecording, max_frames: int | None = None) -> Iterator[tuple[float, list[CameraFrame]]]:
    """(stamp in s, frames of the cameras) per moment, in time order; all cameras paired when there are two."""
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
