"""One time base for every camera node: parsing start_time and mapping recorded timestamps to stamps."""

import pytest

from dexmv_capture.time_base import RecordingTimeBase, TimeBaseError, live_stamp_ns, parse_start_time


def test_start_time_accepts_nanoseconds_and_iso_8601_with_a_zone():
    assert parse_start_time("") is None
    assert parse_start_time("1764797400000000123") == 1764797400000000123
    # exact to the nanosecond: float seconds at today's epoch would be ~100 ns off
    assert parse_start_time("2025-12-03T21:30:00.250Z") == 1764797400_250_000_000
    assert parse_start_time("2025-12-03T22:30:00.250+01:00") == 1764797400_250_000_000
    for bad, says in (("2025-12-03T21:30:00", "no time zone"), ("tomorrow", "neither integer"),
                      ("-5", "before 1970")):
        with pytest.raises(TimeBaseError, match=says):
            parse_start_time(bad)


def test_two_nodes_with_one_start_time_stamp_an_instant_identically():
    start = 1764797400_000_000_000
    # two recordings of one rig: camera2's first frame came 12 ms after camera1's
    cam1, cam2 = RecordingTimeBase(start, origin_ms=1000.0), RecordingTimeBase(start, origin_ms=1000.0)
    cam1.anchor(1000.0, now_ns=5)
    cam2.anchor(1012.0, now_ns=999_999_999)  # the nodes started at different times: irrelevant
    assert cam1.stamp_ns(1045.5) == cam2.stamp_ns(1045.5) == start + 45_500_000
    assert cam2.stamp_ns(1012.0) - cam1.stamp_ns(1000.0) == 12_000_000  # relative timing kept
    # origin left open: each recording's first frame (right for synthetic pairs, which both start at 0)
    own = RecordingTimeBase(start)
    own.anchor(250.0, now_ns=0)
    assert own.stamp_ns(250.0) == start and own.fixed


def test_recording_time_and_the_node_clock_default():
    rec = RecordingTimeBase(use_recording_time=True)
    assert rec.fixed and rec.stamp_ns(1764797400123.25) == 1764797400123250000
    with pytest.raises(TimeBaseError, match="exclude each other"):
        RecordingTimeBase(5, use_recording_time=True)
    own = RecordingTimeBase()
    with pytest.raises(RuntimeError):
        own.stamp_ns(0.0)
    own.anchor(40.0, now_ns=7_000)
    assert own.stamp_ns(73.3) == 7_000 + 33_300_000


def test_live_frames_keep_their_global_timestamp_as_realsense_ros():
    assert live_stamp_ns(1764797400123.5, "global_time", arrival_ns=1) == 1764797400123500000
    assert live_stamp_ns(1764797400123.5, "system_time", arrival_ns=1) == 1764797400123500000
    assert live_stamp_ns(5321.0, "hardware_clock", arrival_ns=42) == 42  # device clock: not comparable


def test_playback_rate_spaces_frames_and_keeps_the_recorded_stamps(tmp_path):
    """`rate` 0.25 (as `ros2 bag play --rate`): frames of a 10 fps recording go out 0.4 s apart on the
    node's clock, with the stamps of the recorded timeline; a bad rate is refused."""
    import numpy as np

    from dexmv_capture.camera_source import RecordingSource
    from dexmv_capture.d435 import Intrinsics
    from dexmv_capture.recording import RecordingWriter

    intrinsics = Intrinsics(64, 48, 60.0, 60.0, 32.0, 24.0)
    path = tmp_path / "cam.db3"
    with RecordingWriter(path, intrinsics, 10.0) as writer:
        for k in range(5):
            writer.write(np.zeros((48, 64, 3), np.uint8), np.full((48, 64), 500, np.uint16), 100.0 * k)
    clock = [1_000_000_000]
    sent = []

    def sleep(seconds: float) -> None:
        clock[0] += round(seconds * 1e9)

    source = RecordingSource(str(path), True, RecordingTimeBase(5_000_000_000), clock_ns=lambda: clock[0],
                             sleep=sleep, rate=0.25)
    while source.read() is not None:
        sent.append((clock[0], source.stamp_ns))
    source.close()
    assert [stamp for _, stamp in sent] == [5_000_000_000 + 100_000_000 * k for k in range(5)]
    assert np.allclose(np.diff([t for t, _ in sent]), 400_000_000, atol=1_000_000)
    assert source.stats.dropped == 0
    with pytest.raises(ValueError, match="rate"):
        RecordingSource(str(path), True, rate=0.0)
