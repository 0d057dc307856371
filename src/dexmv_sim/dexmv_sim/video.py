"""Write rendered frames: a PNG contact sheet, an animated GIF, or an MP4.

PNG and GIF need only Pillow (installed with matplotlib). MP4 is written by imageio's ffmpeg
plugin when imageio-ffmpeg is installed (H.264, which browsers play), else by OpenCV's VideoWriter
(opencv-contrib-python is a workspace dependency, brought by dexmv_capture). OpenCV's pip wheels
carry no H.264 encoder, so that path writes MPEG-4 Part 2 ('mp4v'), which VLC, ffmpeg, mpv and
OpenCV read, but most browsers do not. MPEG encoders need even frame sizes: an odd width or height
loses its last column or row. With neither backend the error says what to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

MP4_FOURCC = "mp4v"  # the MP4 codec OpenCV's pip wheels can encode (no H.264 encoder in them)


class VideoError(RuntimeError):
    """No backend for the requested format, or nothing to write."""


def contact_sheet(frames: Sequence[np.ndarray], count: int = 6, columns: int = 3) -> np.ndarray:
    """`count` frames evenly spread over the sequence (first and last included), in a grid."""
    if not frames:
        raise VideoError("no frames to write")
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    chosen = [frames[i] for i in picks]
    columns = min(columns, len(chosen))
    rows = -(-len(chosen) // columns)
    h, w = chosen[0].shape[:2]
    sheet = np.full((rows * h, columns * w, 3), 255, dtype=np.uint8)
    for k, frame in enumerate(chosen):
        r, c = divmod(k, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = frame[..., :3]
    return sheet


def write_frames(path: str | Path, frames: Sequence[np.ndarray], *, fps: int = 25, sheet_frames: int = 6) -> None:
    """Write RGB uint8 frames to .png (contact sheet), .gif or .mp4."""
    from PIL import Image

    path = Path(path)
    suffix = path.suffix.lower()
    if not frames:
        raise VideoError("no frames to write")
    if suffix == ".png":
        Image.fromarray(contact_sheet(frames, sheet_frames)).save(path)
    elif suffix == ".gif":
        images = [Image.fromarray(f[..., :3]) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    elif suffix == ".mp4":
        _write_mp4(path, frames, fps)
    else:
        raise VideoError(f"{path}: unknown format '{suffix}' (use .png, .gif or .mp4)")


def _write_mp4(path: Path, frames: Sequence[np.ndarray], fps: int) -> None:
    h, w = (n - n % 2 for n in frames[0].shape[:2])  # MPEG encoders want even sizes
    if h == 0 or w == 0:
        raise VideoError(f"{path}: frames of {frames[0].shape[1]}x{frames[0].shape[0]} are too small for MP4")
    for frame in frames:
        if frame.shape[:2] != frames[0].shape[:2]:
            raise VideoError(f"{path}: frames differ in size ({frame.shape[:2]} after {frames[0].shape[:2]})")
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401 - the plugin imageio needs for mp4

        # macro_block_size 2 with even sizes: imageio neither pads nor resizes the frames
        with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=2) as writer:
            for frame in frames:
                writer.append_data(np.ascontiguousarray(frame[:h, :w, :3]))
        return
    except ImportError:
        pass
    try:
        import cv2
    except ImportError:
        raise VideoError(f"{path}: MP4 needs OpenCV (pip install opencv-contrib-python) or imageio-ffmpeg; "
                         "or write .gif / .png instead") from None
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*MP4_FOURCC), fps, (w, h))
    if not writer.isOpened():
        raise VideoError(f"{path}: OpenCV {cv2.__version__} could not open an MP4 ({MP4_FOURCC}) writer: "
                         "is it built with FFMPEG (cv2.getBuildInformation())? Or write .gif / .png instead")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[:h, :w, 2::-1]))  # RGB(A) -> BGR
    finally:
        writer.release()
