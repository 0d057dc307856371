"""RealSense recordings read back frame for frame, however slowly the reader takes them."""

import time

import numpy as np
import pytest

from dexmv_capture.d435 import Intrinsics
from dexmv_capture.recording import RecordingIncomplete, RecordingReader, RecordingWriter

SMALL = Intrinsics(160, 120, 150.0, 150.0, 80.0, 60.0)


def _write(path, frames: int, **kwargs) -> None:
    writer = RecordingWriter(path, SMALL, 30.0, pace=False, **kwargs)
    try:
        for k in range(frames):
            color = np.full((SMALL.height, SMALL.width, 3), k, np.uint8)
            depth = np.full((SMALL.height, SMALL.width), 600 + k, np.uint16)  # a wall at 0.6 m + k mm
            writer.write(color, depth)
    finally:
        writer.close()


def test_a_slow_reader_gets_every_frame_in_order(tmp_path):
    path = tmp_path / "slow.db3"
    _write(path, 40)
    with RecordingReader(path) as reader:
        frames = []
        while (frame := reader.read()) is not None:
            frames.append(frame)
            time.sleep(0.02)  # slower than playback: a syncer's queue would overflow and drop frames
    assert [f.frame_number for f in frames] == list(range(40))
    assert [int(f.color[0, 0, 0]) for f in frames] == list(range(40))
    assert [int(f.depth[60, 80]) for f in frames] == [600 + k for k in range(40)]
    assert reader.unpaired == 0


def test_unregistered_depth_is_aligned_and_the_first_frame_kept(tmp_path):
    """A real D435's depth sensor is offset from its colour sensor: the reader aligns depth to colour."""
    path = tmp_path / "offset.db3"
    _write(path, 10, depth_to_color=([1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], [0.015, 0.0, 0.0]))
    with RecordingReader(path) as reader:
        frames = list(reader)
    assert [f.frame_number for f in frames] == list(range(10))
    for k, frame in enumerate(frames):
        assert frame.depth.shape == (SMALL.height, SMALL.width)
        valid = frame.depth > 0
        # a 15 mm shift at 0.6 m moves the wall by ~4 px: most of the image still sees it, at its depth
        assert valid.mean() > 0.9 and np.all(np.abs(frame.depth[valid].astype(int) - (600 + k)) <= 1)
        assert not valid[:, -2:].all() or not valid[:, :2].all()  # the shifted edge has no depth


def test_a_garbled_recording_says_how_many_frames_it_could_not_read(damaged_recordings):
    path, total = damaged_recordings["garbled"], damaged_recordings["frames"]
    frames = []
    with pytest.raises(RecordingIncomplete) as caught, RecordingReader(path) as reader:
        for frame in reader:
            frames.append(frame)
    message = str(caught.value)
    assert message.startswith(f"{path}: corrupt or truncated: read ") and f"of {total} colour" in message
    assert 0 < len(frames) < total and reader.recorded == {"color": total, "depth": total}
    # not strict: the frames that could be read, and the same finding in `problem`
    with RecordingReader(path, strict=False) as reader:
        assert sum(1 for _ in reader) == len(frames)
        assert reader.problem == message


def test_a_recording_without_colour_frames_is_an_error(damaged_recordings):
    path = damaged_recordings["no_color"]
    with pytest.raises(RecordingIncomplete, match=r"no frames could be read \(the file holds 0 colour and 60 depth"), \
            RecordingReader(path) as reader:
        list(reader)
    with RecordingReader(damaged_recordings["intact"]) as reader:
        assert sum(1 for _ in reader) == 60 and reader.problem is None and reader.expected_frames == 60
