"""Two-camera timestamp pairing: drops, jitter, different start times, out-of-order arrival, bounded memory."""

import numpy as np
import pytest

from dexmv_capture.frame_pairing import FramePairer, pair_recordings, pair_timestamps

FPS = 30.0
PERIOD = 1.0 / FPS


def _streams(seed: int, frames: int = 300, jitter: float = 0.002, start_b: float = 0.0, drop: float = 0.05):
    """Two cameras at 30 fps with a common true time per exposure: (stamps_a, stamps_b, truth_a, truth_b)
    where truth_* is the exposure index of every frame (frames that were dropped are missing)."""
    rng = np.random.default_rng(seed)
    n_b0 = round(start_b / PERIOD)
    exposures = np.arange(frames)
    keep_a = exposures[rng.random(frames) > drop]
    keep_b = exposures[(rng.random(frames) > drop) & (exposures >= n_b0)]
    stamps_a = keep_a * PERIOD + rng.normal(0.0, jitter, keep_a.size)
    stamps_b = keep_b * PERIOD + 0.003 + rng.normal(0.0, jitter, keep_b.size)  # a constant 3 ms offset too
    return stamps_a, stamps_b, keep_a, keep_b


@pytest.mark.parametrize("seed", range(5))
def test_offline_pairs_exactly_the_frames_of_one_exposure(seed):
    stamps_a, stamps_b, truth_a, truth_b = _streams(seed, start_b=0.4)
    result = pair_timestamps(stamps_a, stamps_b, fps=FPS)
    common = np.intersect1d(truth_a, truth_b)
    assert len(result.pairs) == len(common)  # every exposure both cameras kept is paired ...
    np.testing.assert_array_equal(truth_a[result.pairs[:, 0]], truth_b[result.pairs[:, 1]])  # ... with itself
    assert len(result.unpaired_a) == len(truth_a) - len(common) and len(result.unpaired_b) == len(truth_b) - len(common)
    assert np.all(np.diff(stamps_a[result.pairs[:, 0]]) > 0)  # in time order, each frame used once


def test_offline_accepts_unsorted_input_and_returns_original_indices():
    stamps_a, stamps_b, truth_a, truth_b = _streams(7)
    order_a, order_b = np.random.default_rng(1).permutation(len(stamps_a)), np.random.default_rng(2).permutation(
        len(stamps_b))
    result = pair_timestamps(stamps_a[order_a], stamps_b[order_b], fps=FPS)
    np.testing.assert_array_equal(truth_a[order_a][result.pairs[:, 0]], truth_b[order_b][result.pairs[:, 1]])
    assert len(result.pairs) == len(np.intersect1d(truth_a, truth_b))


def test_tolerance_rejects_frames_too_far_apart():
    a = np.arange(10) * PERIOD
    b = a + 0.3 * PERIOD  # a stamp is 0.3 periods after its a frame, 0.7 before the next
    tight = pair_timestamps(a, b, fps=FPS, tolerance_s=0.2 * PERIOD)
    assert len(tight.pairs) == 0 and len(tight.unpaired_a) == 10 and len(tight.unpaired_b) == 10
    default = pair_timestamps(a, b, fps=FPS)  # half a period
    np.testing.assert_array_equal(default.pairs, np.column_stack([np.arange(10), np.arange(10)]))


def test_a_nearer_later_frame_wins_the_match():
    # b at 0.010 is within tolerance of a at 0.0 but a at 0.012 is nearer: it gets b, a at 0.0 is dropped
    result = pair_timestamps([0.0, 0.012], [0.010], fps=FPS, tolerance_s=0.015)
    np.testing.assert_array_equal(result.pairs, [[1, 0]])
    np.testing.assert_array_equal(result.unpaired_a, [0])


@pytest.mark.parametrize("seed", range(3))
def test_streaming_with_out_of_order_arrival_gives_the_offline_pairs(seed):
    stamps_a, stamps_b, truth_a, truth_b = _streams(seed, start_b=0.25)
    rng = np.random.default_rng(seed + 10)
    # arrival: each frame arrives at its stamp plus a transport delay of up to one period (reordering
    # frames of a camera and across cameras)
    events = [("camera1", s, ("a", int(i))) for i, s in enumerate(stamps_a)] + \
             [("camera2", s, ("b", int(i))) for i, s in enumerate(stamps_b)]
    arrival = np.array([s for _, s, _ in events]) + rng.uniform(0.0, PERIOD, len(events))
    pairer = FramePairer(fps=FPS, lateness_s=PERIOD, max_pending=16)
    pairs, most_pending = [], 0
    for k in np.argsort(arrival):
        pairs += pairer.push(*events[k])
        most_pending = max(most_pending, *pairer.pending())
    pairs += pairer.flush()
    got = np.array([[p.frames[0][1], p.frames[1][1]] for p in pairs])
    offline = pair_timestamps(stamps_a, stamps_b, fps=FPS)
    np.testing.assert_array_equal(got, offline.pairs)
    np.testing.assert_array_equal(truth_a[got[:, 0]], truth_b[got[:, 1]])
    assert all(p.frames[0][0] == "a" and p.frames[1][0] == "b" for p in pairs)  # camera order kept
    assert np.all(np.diff([p.stamp for p in pairs]) > 0)  # emitted oldest first
    stats = pairer.stats
    assert stats.pairs == len(pairs) and stats.late == {"camera1": 0, "camera2": 0}
    assert stats.dropped("camera1") == len(offline.unpaired_a) and stats.dropped("camera2") == len(offline.unpaired_b)
    assert most_pending <= 16 and stats.overflow == {"camera1": 0, "camera2": 0}  # bounded, nothing forced out


def test_frames_later_than_the_lateness_are_dropped_and_counted():
    pairer = FramePairer(fps=FPS, lateness_s=0.0)
    out = []
    for k in range(10):
        out += pairer.push("camera1", k * PERIOD, k)
        out += pairer.push("camera2", k * PERIOD + 0.001, k)
    assert [p.frames for p in out] == [(k, k) for k in range(9)]  # the last waits for what may still come
    assert pairer.push("camera1", 2 * PERIOD + 0.002, "late") == []  # its slot was decided long ago
    assert pairer.stats.late["camera1"] == 1
    assert [p.frames for p in pairer.flush()] == [(9, 9)]


def test_memory_stays_bounded_when_one_camera_stops():
    pairer = FramePairer(fps=FPS, max_pending=8)
    for k in range(5):
        pairer.push("camera1", k * PERIOD, k)
        pairer.push("camera2", k * PERIOD, k)
    for k in range(5, 500):  # camera2 is gone: camera1 frames can never be decided by time alone
        pairer.push("camera1", k * PERIOD, k)
        assert max(pairer.pending()) <= 8
    assert pairer.stats.overflow["camera1"] + pairer.stats.unpaired["camera1"] >= 500 - 5 - 8
    assert pairer.stats.pairs >= 3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown camera 'camera3'"):
        FramePairer().push("camera3", 0.0)
    with pytest.raises(ValueError, match="not finite"):
        FramePairer().push("camera1", float("nan"))
    with pytest.raises(ValueError, match="fps must be positive"):
        FramePairer(fps=0.0)
    with pytest.raises(ValueError, match="stamps_b"):
        pair_timestamps([0.0], [np.inf])


def test_recordings_of_the_synthetic_rig_pair_frame_by_frame(tmp_path):
    from dexmv_capture.d435 import Intrinsics
    from dexmv_capture.recording import RecordingWriter

    small = Intrinsics(64, 48, 61.5, 61.5, 32.0, 24.0)
    paths = []
    for name, start in (("a.db3", 0), ("b.db3", 3)):  # b starts 3 frames later and misses frame 6
        path = tmp_path / name
        with RecordingWriter(path, small, FPS, pace=False) as writer:
            for k in range(start, 12):
                if name == "b.db3" and k == 6:
                    continue
                writer.write(np.full((48, 64, 3), k, np.uint8), np.full((48, 64), 500, np.uint16), k * 1000 / FPS)
        paths.append(path)
    result = pair_recordings(*paths)
    # a holds frames 0..11 (indices = frame), b holds 3,4,5,7,...,11 (indices 0..7)
    np.testing.assert_array_equal(result.pairs, [[3, 0], [4, 1], [5, 2], [7, 3], [8, 4], [9, 5], [10, 6], [11, 7]])
    np.testing.assert_array_equal(result.unpaired_a, [0, 1, 2, 6])
    assert result.unpaired_b.size == 0
