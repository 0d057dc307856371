"""Reading a monocular video: frames with the container's own stamps (phones record at a variable rate)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest


def _variable_rate_video(folder, durations: list[float]):
    """An .mp4 whose frames last `durations` (s), written by the ffmpeg that imageio-ffmpeg ships."""
    import imageio.v2 as imageio
    import imageio_ffmpeg

    lines = []
    for k, duration in enumerate(durations):
        imageio.imwrite(folder / f"f{k}.png", np.full((48, 64, 3), 20 * k, np.uint8))
        lines += [f"file 'f{k}.png'", f"duration {duration}"]
    lines.append(f"file 'f{len(durations) - 1}.png'")  # the concat demuxer's way to keep the last duration
    (folder / "list.txt").write_text("\n".join(lines) + "\n")
    out = folder / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
                    "-i", str(folder / "list.txt"), "-fps_mode", "vfr", "-pix_fmt", "yuv420p", str(out)],
                   check=True, timeout=60)
    return out


def test_a_variable_rate_video_gives_its_frames_own_stamps(tmp_path):
    from dexmv_perception.monocular import video_frames

    durations = [0.04, 0.12, 0.04, 0.2, 0.04, 0.08]  # multiples of the PNG input's 1/25 s
    fps, _, frames = video_frames(_variable_rate_video(tmp_path, durations))
    stamps = np.array([stamp for stamp, _ in frames])
    truth = np.concatenate([[0.0], np.cumsum(durations)])
    np.testing.assert_allclose(stamps, truth, atol=1e-3)
    # what frame index / the container's average rate would have said: frames 3 and 4 some 57 ms off
    assert np.abs(np.arange(len(truth)) / fps - truth).max() > 0.05


def test_a_phones_rotation_metadata_is_applied(tmp_path):
    """A portrait phone video is stored landscape with a display rotation: frames come out upright."""
    import imageio.v2 as imageio
    import imageio_ffmpeg

    from dexmv_perception.monocular import video_frames

    image = np.zeros((48, 64, 3), np.uint8)
    image[:10, :20] = 255  # a mark in the top-left corner
    imageio.imwrite(tmp_path / "frame.png", image)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-loop", "1", "-t", "0.2", "-i", str(tmp_path / "frame.png"),
                    "-pix_fmt", "yuv420p", str(tmp_path / "stored.mp4")], check=True, timeout=60)
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-display_rotation", "90", "-i", str(tmp_path / "stored.mp4"),
                    "-c", "copy", str(tmp_path / "portrait.mp4")], check=True, timeout=60)
    _, _, frames = video_frames(tmp_path / "stored.mp4")
    _, plain = next(frames)
    _, _, frames = video_frames(tmp_path / "portrait.mp4")
    _, upright = next(frames)
    assert plain.shape == (48, 64, 3) and upright.shape == (64, 48, 3)
    # turned a quarter counter-clockwise for display: the top-left mark is now bottom-left
    rows, cols = np.nonzero(upright[..., 0] > 128)
    assert rows.min() >= 40 and cols.max() <= 12, (rows.min(), cols.max())


def test_a_missing_or_unreadable_video_names_the_file(tmp_path):
    from dexmv_perception.monocular import VideoError, video_frames

    with pytest.raises(VideoError, match=r"nowhere\.mp4: no such video file"):
        video_frames(tmp_path / "nowhere.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoError, match=r"junk\.mp4"):
        video_frames(junk)
