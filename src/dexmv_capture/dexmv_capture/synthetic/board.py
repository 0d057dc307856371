"""Synthetic calibration recordings: a ChArUco board lying on the table, seen by every camera of a rig.

What `dexmv calibrate` needs and a new user does not have yet: per camera a RealSense recording
(`<camera>.db3`) of the board (exact planar projection, sensor noise) with the table-plane depth,
plus the rig's true extrinsics (`extrinsics.yaml`) to compare the calibration with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dexmv_capture.calibration import BoardSpec, render_board_view, world_from_board
from dexmv_capture.d435 import D435_COLOR_640x480, Intrinsics
from dexmv_capture.extrinsics import CameraExtrinsics, save_extrinsics
from dexmv_capture.recording import RecordingWriter
from dexmv_capture.rig import default_rig, optical_pose


def table_depth_mm(world_from_optical: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Depth (mm, uint16) of the table plane z = 0 along every pixel's ray; 0 where a ray misses it."""
    v, u = np.mgrid[0:intrinsics.height, 0:intrinsics.width].astype(float)
    rays = np.stack([(u - intrinsics.ppx) / intrinsics.fx, (v - intrinsics.ppy) / intrinsics.fy,
                     np.ones_like(u)], axis=-1)  # optical frame, z = 1
    down = rays @ world_from_optical[:3, :3].T  # directions in world
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -world_from_optical[2, 3] / down[..., 2]  # ray parameter = depth, since ray z = 1
    depth = np.where((t > 0) & np.isfinite(t), t * 1000.0, 0.0)
    return np.clip(depth, 0, 65535).astype(np.uint16)


def synthesize_board(out_dir: str | Path, *, rig: list[CameraExtrinsics] | None = None, frames: int = 5,
                     fps: float = 30.0, seed: int = 0, spec: BoardSpec | None = None,
                     center_xy: tuple[float, float] = (0.0, 0.0), yaw_deg: float = 0.0,
                     intrinsics: Intrinsics = D435_COLOR_640x480) -> dict[str, Path]:
    """Write `<camera>.db3` board recordings and the true `extrinsics.yaml` into out_dir; returns the recordings."""
    spec = spec or BoardSpec()
    spec.board()  # a bad spec fails before any file is written
    rig = rig or default_rig()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    board_pose = world_from_board(center_xy, yaw_deg, spec)
    rng = np.random.default_rng(seed)
    written = {}
    for k, cam in enumerate(rig):
        pose = optical_pose(cam)
        clean = render_board_view(spec, intrinsics, np.linalg.inv(pose) @ board_pose).astype(float)
        depth = table_depth_mm(pose, intrinsics)
        path = out / f"{cam.camera_name}.db3"
        path.unlink(missing_ok=True)
        with RecordingWriter(path, intrinsics, fps, pace=False,
                             serial_no=str(cam.extra.get("serial_no", f"{900000000000 + k + 1}"))) as writer:
            for t in range(frames):
                noisy = np.clip(clean + rng.normal(0.0, 2.0, clean.shape), 0, 255).astype(np.uint8)
                writer.write(noisy, depth, t * 1000.0 / fps)
        written[cam.camera_name] = path
    save_extrinsics(out / "extrinsics.yaml", rig)
    return written
