"""Write rendered frames: a PNG contact sheet, an animated GIF, or an MP4 when a video backend exists.

PNG and GIF need only Pillow (installed with matplotlib). MP4 uses imageio's ffmpeg plugin
(imageio-ffmpeg) or OpenCV, whichever is importable; neither is a dependency of this package, so
the error names what to install rather than failing obscurely.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


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
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401 - the plugin imageio needs for mp4

        with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=8) as writer:
            for frame in frames:
                writer.append_data(frame[..., :3])
        return
    except ImportError:
        pass
    try:
        import cv2
    except ImportError:
        raise VideoError(f"{path}: MP4 needs imageio-ffmpeg or OpenCV (pip install imageio-ffmpeg); "
                         "or write .gif / .png instead") from None
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise VideoError(f"{path}: OpenCV could not open an MP4 writer")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., 2::-1]))
    writer.release()
