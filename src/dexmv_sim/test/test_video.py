"""MP4 through OpenCV reads back with the frames, size and colours written; no backend fails clearly."""

import sys

import numpy as np
import pytest

from dexmv_sim.video import VideoError, write_frames

cv2 = pytest.importorskip("cv2", reason="OpenCV is the MP4 backend (opencv-contrib-python)")


def _read_back(path):
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])  # BGR -> RGB
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


@pytest.mark.parametrize(("width", "height"), [(160, 120), (161, 121)])
def test_mp4_reads_back(tmp_path, width, height):
    # flat colours a codec keeps: red, green, blue, grey ramps over 9 frames
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)] + [(v, v, v) for v in range(40, 240, 34)]
    frames = [np.full((height, width, 3), c, dtype=np.uint8) for c in colours]
    path = tmp_path / "clip.mp4"
    write_frames(path, frames, fps=20)
    back, fps = _read_back(path)
    assert len(back) == len(frames) and fps == pytest.approx(20)
    assert back[0].shape == (height - height % 2, width - width % 2, 3)  # even sizes, as MPEG-4 needs
    for written, read in zip(colours, back, strict=True):
        np.testing.assert_allclose(read.reshape(-1, 3).mean(axis=0), written, atol=8)


def test_rgba_frames_and_mismatched_sizes(tmp_path):
    rgba = [np.full((64, 80, 4), (10, 120, 240, 255), dtype=np.uint8)] * 3
    write_frames(tmp_path / "rgba.mp4", rgba, fps=10)
    back, _ = _read_back(tmp_path / "rgba.mp4")
    np.testing.assert_allclose(back[1].reshape(-1, 3).mean(axis=0), (10, 120, 240), atol=8)
    with pytest.raises(VideoError, match="differ in size"):
        write_frames(tmp_path / "bad.mp4", [np.zeros((64, 80, 3), np.uint8), np.zeros((32, 80, 3), np.uint8)])


def test_without_a_backend_the_error_says_what_to_install(tmp_path, monkeypatch):
    # make both backends unimportable in this process (None in sys.modules blocks an import)
    for name in ("cv2", "imageio_ffmpeg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(VideoError, match="pip install opencv-contrib-python"):
        write_frames(tmp_path / "x.mp4", [np.zeros((8, 8, 3), np.uint8)])
    assert not (tmp_path / "x.mp4").exists()
